"""The doors: settings, CLI, HTTP app, wiring of the stages."""
