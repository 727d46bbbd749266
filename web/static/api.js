// The REST API of cited, for the page: JSON requests, the answer event stream, uploads
// with progress, and originals fetched with the API key. A 401 asks the person for a key
// (through `askKey`) and retries; the key lives in sessionStorage, never in a URL.

const KEY = "cited.apiKey";

export class ApiError extends Error {
  /** status: the HTTP status, 0 when the server could not be reached; code: the API's code. */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function unreachable() {
  return new ApiError(
    0,
    "unreachable",
    `Cannot reach the cited server at ${location.origin}. Check that it is running, then retry.`,
  );
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is to say.
  }
  if (response.status === 413) {
    message = `Too large: ${message}`;
  }
  return new ApiError(response.status, code, message);
}

export class Api {
  /** askKey(reason) -> Promise<string|null>: a key from the person, or null if they cancel. */
  constructor(askKey) {
    this.askKey = askKey;
    this.pendingKey = null; // one prompt shared by the requests that met a 401 together
    this.onKeyChange = () => {};
  }

  get key() {
    return sessionStorage.getItem(KEY);
  }

  setKey(key) {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
    this.onKeyChange(Boolean(key));
  }

  headers(extra = {}) {
    const headers = { ...extra };
    const key = this.key;
    if (key) headers.Authorization = `Bearer ${key}`;
    return headers;
  }

  /** After a 401: a new key from the person (true), or false when they gave none. */
  async renewKey(error) {
    const tried = this.key;
    if (!this.pendingKey) {
      const reason = tried
        ? `The key was not accepted: ${error.message}`
        : "This server requires an API key.";
      this.pendingKey = this.askKey(reason).finally(() => {
        this.pendingKey = null;
      });
    }
    const key = await this.pendingKey;
    if (!key) return false;
    this.setKey(key);
    return true;
  }

  /** fetch with the key; a 401 prompts for a key and tries again. */
  async fetch(path, init = {}) {
    for (;;) {
      let response;
      try {
        response = await fetch(path, { ...init, headers: this.headers(init.headers) });
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw unreachable();
      }
      if (response.ok) return response;
      const error = await errorOf(response);
      if (response.status !== 401 || !(await this.renewKey(error))) throw error;
    }
  }

  async json(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await this.fetch(path, init);
    return response.status === 204 ? null : response.json();
  }

  async text(path) {
    return (await this.fetch(path)).text();
  }

  async blob(path) {
    return (await this.fetch(path)).blob();
  }

  /** POST an answer request as a stream; onEvent(name, data) for each server-sent event. */
  async stream(path, body, onEvent, signal) {
    const response = await this.fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new ApiError(0, "stream_broken", "The connection to the server broke mid-answer.");
      }
      if (chunk.done) break;
      buffer += chunk.value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  /** Upload files (multipart) with progress; onProgress(sent, total). Resolves to the job. */
  upload(files, collection, onProgress) {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    if (collection) form.append("collection", collection);
    const send = () =>
      new Promise((resolve, reject) => {
        const request = new XMLHttpRequest();
        request.open("POST", "/v1/documents");
        for (const [name, value] of Object.entries(this.headers({ Accept: "application/json" }))) {
          request.setRequestHeader(name, value);
        }
        request.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) onProgress(event.loaded, event.total);
        });
        request.addEventListener("load", () => resolve(request));
        request.addEventListener("error", () => reject(unreachable()));
        request.send(form);
      });
    return (async () => {
      for (;;) {
        const request = await send();
        const response = new Response(request.responseText || null, {
          status: request.status,
          statusText: request.statusText,
        });
        if (request.status >= 200 && request.status < 300) return response.json();
        const error = await errorOf(response);
        if (request.status !== 401 || !(await this.renewKey(error))) throw error;
      }
    })();
  }
}
