// Which chunks of a window the player must download, from the chunk index alone (pure).
//
// rrweb rebuilds the page at a moment from the last Meta/full snapshot at or before it plus every
// event after that, so a seek needs the chunks from such a snapshot up to the target and
// nothing else; playback needs the chunks just ahead of the playhead. Chunks are numbered in
// seq order (seq-less batches in arrival order) and carry their time range; ordering them by
// first_ms gives replay order.

export const BATCH = 4;

export function byTime(chunks) {
  return chunks.slice().sort((a, b) => a.first_ms - b.first_ms || a.index - b.index);
}

function hasSnapshotIn(snapshotTimes, from, to) {
  for (const ts of snapshotTimes) if (ts >= from && ts <= to) return true;
  return false;
}

/**
 * The next chunks to download before the player can show `target` (absolute ms):
 * `{ready: true}` when every chunk from a loaded snapshot at or before the target up to the
 * target is in, else `{ready: false, fetch: [indices]}` (at most `batch`, nearest the target
 * first; plan again once they are in, since only a downloaded chunk shows its snapshots).
 */
export function planSeek(ordered, loaded, snapshotTimes, target, batch = BATCH) {
  let k = -1;
  for (let i = 0; i < ordered.length; i++) if (ordered[i].first_ms <= target) k = i;
  const missing = [];
  for (let j = k; j >= 0; j--) {
    const chunk = ordered[j];
    if (!loaded.has(chunk.index)) {
      missing.push(chunk.index);
      if (missing.length >= batch) break;
      continue;
    }
    if (hasSnapshotIn(snapshotTimes, chunk.first_ms, Math.min(chunk.last_ms, target))) break;
  }
  return missing.length ? { ready: false, fetch: missing } : { ready: true, fetch: [] };
}

/** Chunks not downloaded yet that start within `aheadMs` after `current` (absolute ms). */
export function planAhead(ordered, loaded, current, aheadMs, batch = BATCH) {
  const out = [];
  for (const chunk of ordered) {
    if (chunk.last_ms < current || loaded.has(chunk.index)) continue;
    if (chunk.first_ms > current + aheadMs) break;
    out.push(chunk.index);
    if (out.length >= batch) break;
  }
  return out;
}

/** The absolute time up to which everything from `current` on is downloaded. */
export function loadedUntil(ordered, loaded, current) {
  for (const chunk of ordered) {
    if (chunk.last_ms < current) continue;
    if (!loaded.has(chunk.index)) return Math.max(current, chunk.first_ms);
  }
  return Infinity;
}

/**
 * Sorted chunk indices as [start, count] runs, for `?cursor=start&chunks=count` requests.
 * A page answers the first `count` chunks with an index at or above `start`, and indices can
 * skip numbers (a batch's index is its seq; a seq may never arrive, old chunks may be dropped),
 * so with `known` (every index of the chunk index) a run spans indices next to each other there.
 */
export function runs(indices, known) {
  const sorted = Array.from(new Set(indices)).sort((a, b) => a - b);
  const order = known ? Array.from(new Set(known)).sort((a, b) => a - b) : null;
  const position = new Map(order ? order.map((index, i) => [index, i]) : []);
  const adjacent = (prev, index) => (order && position.has(prev) && position.has(index)
    ? position.get(index) === position.get(prev) + 1 : index === prev + 1);
  const out = [];
  let prev = null;
  for (const index of sorted) {
    const last = out[out.length - 1];
    if (last && adjacent(prev, index)) last[1] += 1;
    else out.push([index, 1]);
    prev = index;
  }
  return out;
}

/** The indices a `?cursor=start&chunks=count` page answered that said `nextCursor`. */
export function pageIndices(known, start, count, nextCursor) {
  const out = [];
  for (const index of Array.from(new Set(known)).sort((a, b) => a - b)) {
    if (index < start) continue;
    if (out.length >= count || (nextCursor != null && index >= nextCursor)) break;
    out.push(index);
  }
  return out;
}
