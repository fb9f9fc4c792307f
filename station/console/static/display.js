/* The kiosk display: the last decision in large type, then back to the idle prompt after
   data-hold-ms. Server-sent events; textContent only. */
(function () {
  "use strict";
  var kiosk = document.getElementById("kiosk");
  if (!kiosk || !window.EventSource) { return; }
  var verdict = document.getElementById("verdict");
  var who = document.getElementById("who");
  var temp = document.getElementById("temp");
  var reason = document.getElementById("reason");
  var words = document.getElementById("words");
  var hold = parseInt(kiosk.getAttribute("data-hold-ms"), 10) || 8000;
  var timer = null;

  function idle() {
    kiosk.className = "kiosk idle";
    verdict.textContent = verdict.getAttribute("data-idle");
    who.textContent = ""; temp.textContent = ""; reason.textContent = "";
  }

  function show(r) {
    var admitted = r.decision === "admit";
    kiosk.className = "kiosk " + (admitted ? "admit" : "deny");
    verdict.textContent = words.getAttribute(admitted ? "data-admit" : "data-deny");
    who.textContent = r.name;
    temp.textContent = r.temperature ? r.temperature + " °C" : "";
    reason.textContent = admitted ? "" : r.reasons;
    kiosk.setAttribute("data-shown-seq", r.seq);
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(idle, hold);
  }

  var source = new EventSource("/display/events?after=" + encodeURIComponent(kiosk.getAttribute("data-after")));
  source.addEventListener("record", function (event) { show(JSON.parse(event.data)); });
  var note = document.getElementById("alarm-note");
  source.addEventListener("counts", function (event) {
    var n = JSON.parse(event.data).unhandled || 0;
    if (!note) { return; }
    note.textContent = note.getAttribute("data-template").replace("{n}", n);
    note.className = "kiosk-alarm" + (n ? "" : " hidden");
  });
  source.addEventListener("logout", function () { source.close(); window.location.href = "/login?next=/display"; });
}());
