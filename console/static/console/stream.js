/* The live stream on console pages (our own script; no build step).
 *
 * A page that wants live updates has an element
 *   <div data-qm-stream="{% url 'console:stream_ticket' tenant_id=... %}" hidden></div>
 * This script asks that URL for a single-use ticket (POST with the CSRF token), opens the
 * websocket it names with ?ticket=..., and for every event:
 *   - `agent.status`: every [data-agent-id="<id>"][data-agent-status] badge shows the new status;
 *   - dispatches `qm:stream` on document (event.detail = {type, data}) for any other page code.
 * It reconnects with a new ticket after a dropped connection (1 s, 2 s, 4 s ... up to 30 s), but
 * not after the server closed it for good (4403: no longer a member; 4423: tenant suspended).
 */
(function () {
  "use strict";

  var FINAL_CODES = [4403, 4423];
  var LABELS = { provisioning: "Provisioning", active: "Active", idle: "Idle", paused: "Paused", error: "Error" };
  var BADGE_CLASSES = { active: "badge-ok", idle: "badge-ok", paused: "badge-warn", error: "badge-warn" };

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showAgentStatus(data) {
    var badges = document.querySelectorAll('[data-agent-status][data-agent-id="' + data.agent_id + '"]');
    badges.forEach(function (badge) {
      badge.textContent = LABELS[data.status] || data.status;
      badge.className = "badge" + (BADGE_CLASSES[data.status] ? " " + BADGE_CLASSES[data.status] : "");
      badge.setAttribute("data-agent-status", data.status);
    });
  }

  function handle(event) {
    if (event.type === "agent.status" && event.data && event.data.agent_id) showAgentStatus(event.data);
    document.dispatchEvent(new CustomEvent("qm:stream", { detail: event }));
  }

  function connect(root, attempt) {
    fetch(root.getAttribute("data-qm-stream"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 403 || response.status === 404) throw new Error("final");
        if (!response.ok) throw new Error("ticket " + response.status);
        return response.json();
      })
      .then(function (body) {
        var socket = new WebSocket(body.url + "?ticket=" + encodeURIComponent(body.ticket));
        socket.addEventListener("open", function () {
          attempt = 0;
          root.setAttribute("data-qm-stream-state", "open");
        });
        socket.addEventListener("message", function (message) {
          try {
            handle(JSON.parse(message.data));
          } catch (error) {
            /* not an event of ours */
          }
        });
        socket.addEventListener("close", function (closed) {
          root.setAttribute("data-qm-stream-state", "closed");
          if (FINAL_CODES.indexOf(closed.code) === -1) retry(root, attempt + 1);
        });
      })
      .catch(function (error) {
        root.setAttribute("data-qm-stream-state", "closed");
        if (error.message !== "final") retry(root, attempt + 1);
      });
  }

  function retry(root, attempt) {
    window.setTimeout(function () {
      connect(root, attempt);
    }, Math.min(30000, 1000 * Math.pow(2, Math.max(0, attempt - 1))));
  }

  function start() {
    var root = document.querySelector("[data-qm-stream]");
    if (root && "WebSocket" in window) connect(root, 0);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
