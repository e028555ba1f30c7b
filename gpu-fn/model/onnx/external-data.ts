import { closeSync, openSync, writeSync } from "node:fs";
import { basename } from "node:path";

/** Page alignment lets ONNX Runtime memory-map large initializers instead of copying them. */
const ALIGNMENT = 4096;

/** Appends tensor bytes to one external-data file, tracking offsets; nothing is buffered beyond one write. */
export class ExternalDataWriter {
  readonly fileName: string;
  private fd: number | null;
  private position = 0;

  constructor(readonly path: string) {
    this.fileName = basename(path);
    this.fd = openSync(path, "w");
  }

  get bytesWritten(): number {
    return this.position;
  }

  /** Pads to the alignment and returns the offset where the next tensor starts. */
  beginTensor(): number {
    const pad = (ALIGNMENT - (this.position % ALIGNMENT)) % ALIGNMENT;
    if (pad > 0) this.write(new Uint8Array(pad));
    return this.position;
  }

  write(bytes: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: external data already closed`);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.position += bytes.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
