// The page's side of the engine's worker: one worker at a time, every job numbered. Replies carry
// their job's number, and a reply from a worker that was replaced never reaches the page.

export class EngineClient {
  /** `onReply(message)` gets every message of the current worker. */
  constructor(onReply) {
    this.onReply = onReply;
    this.worker = null;
    this.serial = 0;
  }

  /** A new worker on the device `mode` names ('auto', 'webgpu' or 'cpu'); the old one ends. */
  start(mode) {
    this.worker?.terminate();
    const worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
    this.worker = worker;
    worker.onmessage = (event) => {
      if (this.worker === worker) this.onReply(event.data);
    };
    worker.onerror = (event) => {
      if (this.worker !== worker) return;
      event.preventDefault();
      this.onReply({ type: 'error', kind: 'internal', fatal: true, during: 'load',
        message: `the engine could not start (${event.message || 'its script did not load'})` });
    };
    worker.postMessage({ type: 'load', engine: mode });
  }

  /** Sends a job; returns its number, which every reply to it carries. */
  send(type, data = {}, transfer = []) {
    const job = ++this.serial;
    this.worker?.postMessage({ type, job, ...data }, transfer);
    return job;
  }

  /** A message that is not a job of its own (Stop, which thumbnails are in view). */
  tell(type, data = {}) {
    this.worker?.postMessage({ type, ...data });
  }
}
