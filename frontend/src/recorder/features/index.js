// Optional capture features, each switched on by a config flag and plugged in the same way:
// `feature(ctx) -> teardown function`, where ctx = {config, window, document, identity,
// addCustomEvent(tag, payload), setMetadata(obj)}. Later features (metadata, navigation,
// clicks, forms, web vitals, declarative tracking) are added to this list.

import { captureErrors } from "./errors.js";

export const FEATURES = [
  { flag: "captureErrors", start: captureErrors },
];
