// Optional capture features, each switched on by a config flag and plugged in the same way:
// `feature(ctx) -> teardown function`, where ctx = {config, window, document, identity,
// recordOptions, warn, addCustomEvent(tag, payload), setMetadata(obj), flushIfHidden()}.

import { captureClicks } from "./clicks.js";
import { trackCustomEvents } from "./declarative.js";
import { captureErrors } from "./errors.js";
import { trackForms } from "./forms.js";
import { captureMetadata } from "./metadata.js";
import { trackNavigation } from "./navigation.js";
import { captureWebVitals } from "./vitals.js";

export const FEATURES = [
  { flag: "captureMetadata", start: captureMetadata },
  { flag: "captureErrors", start: captureErrors },
  { flag: "trackNavigation", start: trackNavigation },
  { flag: "captureClicks", start: captureClicks },
  { flag: "trackForms", start: trackForms },
  { flag: "trackCustomEvents", start: trackCustomEvents },
  { flag: "captureWebVitals", start: captureWebVitals },
];
