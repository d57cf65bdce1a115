// How bytes, sizes and counts appear in failure records, progress lines and the report.

/** A reply or request as a JSON string, cut at `max` characters so records stay readable. */
export const shown = (buffer, max = 160) => {
  const text = Buffer.isBuffer(buffer) ? buffer.toString("latin1") : String(buffer);
  const escaped = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${escaped}… (${text.length} bytes)` : escaped;
};

export const mb = (bytes) => (bytes === null || bytes === undefined ? "n/a" : `${(bytes / 1048576).toFixed(1)} MB`);
export const count = (n) => n.toLocaleString("en-US");
