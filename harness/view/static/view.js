// aemgym view: the only script. It polls the run's state (runs in progress) and says when episodes or metrics
// arrived; with ?follow=1 in the URL the page reloads itself instead.
(function () {
  "use strict";
  var header = document.querySelector("header[data-live]");
  if (!header) { return; }
  var note = document.getElementById("live-note");
  var initial = JSON.parse(header.getAttribute("data-state") || "{}");
  var follow = new URLSearchParams(window.location.search).get("follow") === "1";
  function followUrl() {
    var params = new URLSearchParams(window.location.search);
    params.set("follow", "1");
    return window.location.pathname + "?" + params.toString();
  }
  function poll() {
    fetch(header.getAttribute("data-live"), { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        var episodes = state.episodes - (initial.episodes || 0);
        var metrics = state.metrics - (initial.metrics || 0);
        if (episodes === 0 && metrics === 0) { return; }
        if (follow) { window.location.reload(); return; }
        note.textContent = "";
        var what = [];
        if (episodes) { what.push(episodes + " new episode" + (episodes === 1 ? "" : "s")); }
        if (metrics) { what.push(metrics + " new iteration" + (metrics === 1 ? "" : "s")); }
        var reload = document.createElement("a");
        reload.href = window.location.href;
        reload.id = "live-reload";
        reload.textContent = what.join(", ") + " — reload";
        var auto = document.createElement("a");
        auto.href = followUrl();
        auto.textContent = "follow";
        note.appendChild(reload);
        note.appendChild(document.createTextNode(" · "));
        note.appendChild(auto);
      })
      .catch(function () { /* the server stopped: keep the page as it is */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
