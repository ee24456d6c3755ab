// Pages of the events API in the layout that travels as stored: `layout=chunks` answers
// {"chunks": [[...events of a chunk...], ...], "next_cursor"} as the stored zstd frames
// themselves (docs/CONTRACTS.md). The player reads pages as {events, next_cursor}.

export const EVENTS_LAYOUT = "chunks";

/**
 * A `layout=chunks` page as {events, next_cursor}; any other answer (the chunk index has
 * `chunks` too, but no `next_cursor`) is returned as it is.
 */
export function asEventsPage(page) {
  if (!page || !Array.isArray(page.chunks) || !("next_cursor" in page)) return page;
  const events = [].concat(...page.chunks.filter(Array.isArray));
  return { events, next_cursor: page.next_cursor };
}
