// The capture-features chunk (manifest name `recorder.features`): loaded beside the recorder
// chunk only when one of config.FEATURE_FLAGS is on.

import { registerChunk } from "./chunks.js";
import { FEATURES } from "./features/index.js";

if (typeof window !== "undefined") registerChunk(window, "features", { FEATURES });
