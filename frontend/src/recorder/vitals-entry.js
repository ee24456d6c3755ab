// The `vitals` bundle (IIFE, loaded on demand by features/vitals.js): web-vitals' LCP, CLS and
// INP observers handed to the recorder through one window property.

import { onCLS, onINP, onLCP } from "web-vitals";
import { VITALS_GLOBAL } from "./features/vitals.js";

if (typeof window !== "undefined" && !window[VITALS_GLOBAL]) {
  window[VITALS_GLOBAL] = Object.freeze({ onLCP, onCLS, onINP });
}
