"""Static files of the chat page, served by api/."""
