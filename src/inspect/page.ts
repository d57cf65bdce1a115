/**
 * The page a viewer opens: the Stately inspector UI (hosted by Stately, so the *browser*
 * needs internet access; the server never does) in a frame, fed with the messages of the
 * bridge's `/viewer` WebSocket through `postMessage`, which is how that UI takes events.
 *
 * The frame announces itself with `@statelyai.connected`; messages wait in the page until
 * then (at most `PAGE_BUFFER`), and are posted only to the origin of the frame that
 * announced itself, never to `*`.
 */

/** Where the inspector UI is loaded from: the same address `createBrowserInspector` opens. */
export const INSPECTOR_UI_URL = "https://stately.ai/inspect";
const PAGE_BUFFER = 10_000;

/** The Content-Security-Policy of the page: its own script, the Stately frame, and the relay. */
export function pageSecurityPolicy(wsOrigin: string | null): string {
  return [
    "default-src 'none'",
    "script-src 'unsafe-inline'",
    "style-src 'unsafe-inline'",
    "frame-src https://stately.ai https://*.stately.ai",
    `connect-src 'self'${wsOrigin ? ` ${wsOrigin}` : ""}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

export function inspectorPage(): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>retopy · Stately inspector</title>
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font: 14px system-ui, sans-serif; }
  #status { margin: 0; padding: 6px 10px; background: #fff4d6; border-bottom: 1px solid #e6d28f; }
  #status[hidden] { display: none; }
  iframe { flex: 1; width: 100%; border: 0; }
</style>
</head>
<body>
<p id="status">retopy live inspector: loading the Stately inspector from ${INSPECTOR_UI_URL}.
This browser needs internet access for it; the server does not.</p>
<iframe id="inspector" src="${INSPECTOR_UI_URL}" title="Stately inspector"></iframe>
<script>
(function () {
  var frame = document.getElementById("inspector");
  var status = document.getElementById("status");
  var pending = [];
  var target = null;
  window.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow || !e.data || e.data.type !== "@statelyai.connected") return;
    target = e.origin;
    status.hidden = true;
    pending.splice(0).forEach(function (m) { frame.contentWindow.postMessage(m, target); });
  });
  var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/viewer");
  ws.onmessage = function (e) {
    var data;
    try { data = JSON.parse(e.data); } catch (_) { return; }
    if (target) frame.contentWindow.postMessage(data, target);
    else if (pending.length < ${PAGE_BUFFER}) pending.push(data);
  };
  ws.onclose = function () {
    status.textContent = "retopy: the server closed the inspector connection (stopped or restarted); reload to reconnect.";
    status.hidden = false;
  };
})();
</script>
</body>
</html>
`;
}
