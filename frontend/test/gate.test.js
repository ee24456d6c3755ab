import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { normalizeConfig } from "../src/recorder/config.js";
import { checkGate, clearOptOutSignal, isTruthySignal, setOptOutSignal } from "../src/recorder/gate.js";
import { wrapStorage } from "../src/recorder/storage.js";
import { CookieDocument, MemoryStorage } from "./support/fakes.js";

function env({ gpc, cookies, local } = {}) {
  return {
    document: new CookieDocument({ cookies }),
    navigator: gpc === undefined ? {} : { globalPrivacyControl: gpc },
    localStorage: wrapStorage(new MemoryStorage(local)),
  };
}

const config = (extra) => normalizeConfig(Object.assign({ eventsUrl: "/e" }, extra));

describe("Global Privacy Control", () => {
  it("closes the gate when GPC is on and respected (the default)", () => {
    assert.deepEqual(checkGate(config(), env({ gpc: true })), { record: false, reason: "gpc" });
    assert.deepEqual(checkGate(config({ respectGpc: true }), env({ gpc: true })).record, false);
  });

  it("records when GPC is off, absent, or respectGpc is explicitly false", () => {
    assert.equal(checkGate(config(), env({ gpc: false })).record, true);
    assert.equal(checkGate(config(), env()).record, true);
    assert.equal(checkGate(config({ respectGpc: false }), env({ gpc: true })).record, true);
  });
});

describe("opt-out signal", () => {
  it("truthy means present and not '', '0' or 'false'", () => {
    for (const v of ["1", "true", "yes"]) assert.equal(isTruthySignal(v), true, v);
    for (const v of [null, undefined, "", "0", "false"]) assert.equal(isTruthySignal(v), false);
  });

  it("closes the gate from the cookie or from localStorage", () => {
    const c = config({ optOutCookieName: "no_rec" });
    assert.equal(checkGate(c, env({ cookies: { no_rec: "1" } })).reason, "opt-out");
    assert.equal(checkGate(c, env({ local: { no_rec: "1" } })).reason, "opt-out");
    assert.equal(checkGate(c, env({ cookies: { no_rec: "0" } })).record, true);
    assert.equal(checkGate(c, env({ cookies: { no_rec: "false" }, local: { no_rec: "" } })).record, true);
    assert.equal(checkGate(c, env({ cookies: { sentiero_optout: "1" } })).record, true,
      "only the configured name counts");
  });

  it("uses sentiero_optout when the server sent no name", () => {
    assert.equal(checkGate(config(), env({ cookies: { sentiero_optout: "1" } })).record, false);
  });

  it("setting and clearing writes both cookie and localStorage", () => {
    const e = env();
    setOptOutSignal(e, "no_rec");
    assert.equal(e.document.jar.get("no_rec"), "1");
    assert.match(e.document.writes[0], /^no_rec=1; path=\/; max-age=31536000; SameSite=Lax; Secure$/);
    assert.equal(e.localStorage.get("no_rec"), "1");
    assert.equal(checkGate(config({ optOutCookieName: "no_rec" }), e).record, false);
    clearOptOutSignal(e, "no_rec");
    assert.equal(e.document.jar.has("no_rec"), false);
    assert.equal(e.localStorage.get("no_rec"), null);
  });
});
