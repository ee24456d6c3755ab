// Web Storage access that never throws.
//
// Browsers throw on `window.localStorage` itself in sandboxed iframes or with storage disabled,
// and on setItem when the quota is exhausted. The recorder must keep working (with ids that live
// only as long as the page) in all of those cases, so every access goes through this wrapper.

/**
 * Wrap `win[name]` ("localStorage" or "sessionStorage").
 * Returns null when the storage is unusable (access throws or a probe write fails).
 */
export function openStorage(win, name) {
  let store;
  try {
    store = win && win[name];
    if (!store) return null;
    const probe = "__sentiero_probe__";
    store.setItem(probe, "1");
    store.removeItem(probe);
  } catch (_err) {
    return null;
  }
  return wrapStorage(store);
}

/** Wrap an object with the Web Storage interface so reads and writes never throw. */
export function wrapStorage(store) {
  return {
    get(key) {
      try {
        return store.getItem(key);
      } catch (_err) {
        return null;
      }
    },
    set(key, value) {
      try {
        store.setItem(key, String(value));
        return true;
      } catch (_err) {
        return false;
      }
    },
    remove(key) {
      try {
        store.removeItem(key);
      } catch (_err) {
        // nothing to do: the key is unreachable anyway
      }
    },
  };
}
