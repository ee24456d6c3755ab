// gzip with the browser's own CompressionStream (no bundled deflate implementation).

export function supportsGzip(scope) {
  return !!(scope && typeof scope.CompressionStream === "function" &&
    typeof scope.Response === "function" && typeof scope.TextEncoder === "function");
}

/**
 * Returns an async `(string) => Uint8Array` gzip function, or null when the browser has no
 * CompressionStream (the transport then sends plain JSON).
 */
export function makeGzip(scope) {
  if (!supportsGzip(scope)) return null;
  return async function gzip(text) {
    const stream = new scope.CompressionStream("gzip");
    const writer = stream.writable.getWriter();
    // The write/close promises settle with the readable side; errors surface there.
    writer.write(new scope.TextEncoder().encode(text)).catch(() => {});
    writer.close().catch(() => {});
    const buffer = await new scope.Response(stream.readable).arrayBuffer();
    return new Uint8Array(buffer);
  };
}
