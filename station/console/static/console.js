/* The gate page's live feed (server-sent events) and the print button. Written for old
   browsers too (no modules, no arrow functions); nothing but textContent touches the DOM
   with data, so a hostile name cannot become markup. */
(function () {
  "use strict";
  var print = document.getElementById("print");
  if (print) {
    print.addEventListener("click", function (event) { event.preventDefault(); window.print(); });
  }
  var summary = document.getElementById("summary");
  var table = document.getElementById("live-records");
  if (!summary || !table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var officer = table.getAttribute("data-officer") === "1";
  var state = document.getElementById("live-state");
  var maxRows = 200;

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function addRecord(r) {
    var row = document.createElement("tr");
    row.className = "fresh kind-" + r.kind + " decision-" + (r.decision || "none");
    row.setAttribute("data-seq", r.seq);
    var first = cell(row, "", "num");
    if (officer) {
      var link = document.createElement("a");
      link.href = "/records/" + r.seq;
      link.textContent = r.seq;
      first.appendChild(link);
    } else { first.textContent = r.seq; }
    cell(row, r.time, "time");
    cell(row, r.kind_text, "opt");
    cell(row, r.subject, "opt");
    cell(row, r.name);
    var code = cell(row, "");
    if (r.color) {
      var span = document.createElement("span");
      span.className = "code code-" + r.color;
      span.textContent = r.color_text;
      code.appendChild(span);
    }
    cell(row, r.temperature, "num");
    var verdict = cell(row, "");
    if (r.decision) {
      var badge = document.createElement("span");
      badge.className = "badge " + r.decision;
      badge.textContent = r.decision_text;
      verdict.appendChild(badge);
    }
    cell(row, r.reasons, "reasons");
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
    var none = document.getElementById("no-records");
    if (none) { none.parentNode.removeChild(none); }
  }

  function setCounts(data) {
    var counts = data.counts || {};
    counts.backlog = data.backlog;
    var nodes = summary.querySelectorAll("[data-count]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-count");
      if (counts[key] !== undefined) { nodes[i].textContent = counts[key]; }
    }
    var banner = document.getElementById("unhandled-alarms");
    if (banner && data.unhandled !== undefined) {  /* fever alarms not yet handled */
      banner.getElementsByTagName("a")[0].textContent =
        banner.getAttribute("data-template").replace("{n}", data.unhandled);
      banner.className = "alarm-banner" + (data.unhandled ? "" : " hidden");
    }
    var faults = document.getElementById("faults");
    if (faults) {
      var list = faults.getElementsByTagName("ul")[0];
      while (list.firstChild) { list.removeChild(list.firstChild); }
      var any = false;
      for (var device in data.faults) {
        if (Object.prototype.hasOwnProperty.call(data.faults, device)) {
          var item = document.createElement("li");
          item.textContent = data.faults[device];
          list.appendChild(item);
          any = true;
        }
      }
      faults.className = any ? "faults" : "faults hidden";
    }
  }

  function live(on) {
    if (!state) { return; }
    state.textContent = state.getAttribute(on ? "data-on" : "data-off");
    state.className = on ? "live on" : "live";
  }

  var source = new EventSource("/events?after=" + encodeURIComponent(summary.getAttribute("data-after")));
  source.addEventListener("open", function () { live(true); });
  source.addEventListener("error", function () { live(false); });
  source.addEventListener("record", function (event) { addRecord(JSON.parse(event.data)); });
  source.addEventListener("counts", function (event) { setCounts(JSON.parse(event.data)); });
  source.addEventListener("logout", function () { source.close(); window.location.href = "/login"; });
}());
