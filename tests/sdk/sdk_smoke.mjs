// RingCentral's official JavaScript SDK against the embedded simulator.
//
// Logs in with JWT, subscribes to the account's telephony sessions over
// WebSocket, then follows one call: waits until its agent leg is Answered,
// holds it, waits for the Hold event, unholds it, waits for Answered again.
// Every step is printed to stdout as one JSON line; the last one is
// {"step":"done"}. Errors are printed as {"step":"error",...} and exit 1.
//
// Configuration (env): RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET,
// RC_JWT; the telephony session id comes from argv[2] or RC_SESSION_ID or,
// when neither is set, from the first line of stdin (so a caller can place
// the call after the subscription is ready). Driven by
// tests/simulator/test_sdk.py.

import { SDK } from "@ringcentral/sdk";
import { Subscriptions } from "@ringcentral/subscriptions";
import readline from "node:readline";

const FILTER = "/restapi/v1.0/account/~/telephony/sessions";
const STEP_TIMEOUT_MS = Number(process.env.RC_STEP_TIMEOUT_MS || 10000);

function say(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function fail(error) {
  say("error", { message: String(error && error.stack ? error.stack : error) });
  process.exit(1);
}

function env(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

async function sessionId() {
  const given = process.argv[2] || process.env.RC_SESSION_ID;
  if (given) return given;
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim()) {
      lines.close();
      return line.trim();
    }
  }
  throw new Error("stdin closed before a session id arrived");
}

// Resolves with the first notification body matching `predicate`.
function waitFor(events, predicate, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what}`)),
      STEP_TIMEOUT_MS,
    );
    const check = (body) => {
      if (predicate(body)) {
        clearTimeout(timer);
        events.off("event", check);
        resolve(body);
      }
    };
    events.on("event", check);
    for (const body of events.seen) check(body);
  });
}

async function main() {
  const sdk = new SDK({
    server: env("RC_SERVER_URL"),
    clientId: env("RC_CLIENT_ID"),
    clientSecret: env("RC_CLIENT_SECRET"),
  });
  const platform = sdk.platform();
  const login = await platform.login({ jwt: env("RC_JWT") });
  const token = await login.json();
  say("login", { owner_id: token.owner_id, session_id: token.session_id });

  const events = new (await import("node:events")).EventEmitter();
  events.seen = [];
  const subscriptions = new Subscriptions({ sdk });
  const subscription = subscriptions.createSubscription();
  subscription.setEventFilters([FILTER]);
  subscription.on(subscription.events.notification, (envelope) => {
    const body = envelope.body;
    const party = body.parties[0];
    say("event", {
      telephonySessionId: body.telephonySessionId,
      sequence: body.sequence,
      partyId: party.id,
      extensionId: party.extensionId ?? null,
      status: party.status.code,
      subscriptionId: envelope.subscriptionId,
    });
    events.seen.push(body);
    events.emit("event", body);
  });
  const info = await subscription.register();
  say("subscribed", {
    id: info.subscriptionInfo.id,
    eventFilters: info.subscriptionInfo.eventFilters,
  });

  const session = await sessionId();
  const onAgent = (status) => (body) =>
    body.telephonySessionId === session &&
    body.parties[0].extensionId &&
    body.parties[0].status.code === status;
  const answered = await waitFor(events, onAgent("Answered"), "Answered");
  const partyId = answered.parties[0].id;
  const base = `/restapi/v1.0/account/~/telephony/sessions/${session}/parties/${partyId}`;

  const held = await (await platform.post(`${base}/hold`)).json();
  say("hold", { status: held.status.code, partyId: held.id });
  await waitFor(events, onAgent("Hold"), "Hold event");

  const unheld = await (await platform.post(`${base}/unhold`)).json();
  say("unhold", { status: unheld.status.code, partyId: unheld.id });
  const after = (body) =>
    onAgent("Answered")(body) && body.sequence > answered.sequence;
  await waitFor(events, after, "Answered after unhold");
  say("done");
  process.exit(0);
}

main().catch(fail);
