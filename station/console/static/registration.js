/* The guard's forms: the province picker, live checks of the plate and mobile numbers (the
   same rules as station/registration.py; the server checks again), the fields that only
   apply to one way of checking a code, and "take code and temperature from the gate"
   (POST /api/v1/capture with the session's CSRF token). No inline script (the CSP forbids
   it); textContent only. */
(function () {
  "use strict";
  var form = document.querySelector("form.reg");
  if (!form) { return; }
  var csrf = form.querySelector("input[name=csrf]").value;

  function problemOf(input) {
    return document.getElementById("e-" + input.name);
  }

  function mark(input, message) {
    var label = input.closest("label");
    var problem = problemOf(input);
    if (label) { label.classList.toggle("wrong", !!message); }
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    if (problem && (message || problem.getAttribute("data-live") === "1")) {
      problem.textContent = message || "";
      problem.hidden = !message;
      problem.setAttribute("data-live", "1");
    }
  }

  /* plate: registration.md's rule */
  var plate = document.getElementById("plate");
  var other = form.querySelector("input[name=plate_other]");
  var plateState = document.getElementById("plate-state");
  var BODY = "[A-HJ-NP-Z0-9]";
  function plateRule(provinces) {
    var p = "[" + provinces + "]";
    return new RegExp("^" + p + "[A-Z](" + BODY + "{5}|" + BODY + "{4}[挂学警]|[DF]" + BODY + "{5}|" + BODY + "{5}[DF])$");
  }
  function normalize(text) { return text.replace(/[\s·.\-]/g, "").toUpperCase(); }
  function checkPlate() {
    if (!plate) { return; }
    var value = normalize(plate.value);
    if (!value || (other && other.checked)) {
      plateState.textContent = ""; plateState.className = "plate-state"; mark(plate, ""); return;
    }
    var good = plateRule(plate.getAttribute("data-provinces")).test(value);
    plateState.textContent = plate.getAttribute(good ? "data-ok" : "data-bad");
    plateState.className = "plate-state " + (good ? "ok" : "bad");
    plate.closest("label").classList.toggle("wrong", !good);
  }
  if (plate) {
    plate.addEventListener("input", checkPlate);
    if (other) { other.addEventListener("change", checkPlate); }
    var buttons = document.querySelectorAll("button.province");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        var chosen = event.currentTarget.getAttribute("data-province");
        var provinces = plate.getAttribute("data-provinces");
        var rest = plate.value.trim();
        if (rest && provinces.indexOf(rest.charAt(0)) >= 0) { rest = rest.slice(1); }
        plate.value = chosen + rest;
        plate.focus();
        checkPlate();
      });
    }
    checkPlate();
  }

  /* mobile numbers */
  var phones = form.querySelectorAll("input[data-phone]");
  for (var j = 0; j < phones.length; j++) {
    phones[j].addEventListener("change", function (event) {
      var input = event.currentTarget;
      var digits = input.value.replace(/[\s\-]/g, "");
      mark(input, digits && !/^1[3-9][0-9]{9}$/.test(digits) ? input.getAttribute("data-phone") : "");
    });
  }

  /* the code fields that apply to how it was checked */
  var checked = form.querySelector("select[name=code_checked]");
  var color = form.querySelector("select[name=color]");
  var code = form.querySelector("input[name=code]");
  function codeFields() {
    if (!checked) { return; }
    color.closest("label").classList.toggle("hidden", checked.value !== "shown");
    code.closest("label").classList.toggle("hidden", checked.value !== "thp1");
  }
  if (checked) { checked.addEventListener("change", codeFields); codeFields(); }

  /* hand-over from the gate daemon */
  var capture = document.getElementById("capture");
  var state = document.getElementById("capture-state");
  if (capture && window.fetch) {
    capture.addEventListener("click", function () {
      capture.disabled = true;
      state.textContent = capture.getAttribute("data-wait");
      fetch("/api/v1/capture", {method: "POST", credentials: "same-origin",
                                headers: {"X-CSRF-Token": csrf}})
        .then(function (response) {
          return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        })
        .then(function (answer) {
          capture.disabled = false;
          if (!answer.ok) {
            state.textContent = capture.getAttribute("data-unavailable").replace("{error}", answer.body.detail || "");
            state.className = "error";
            return;
          }
          var fields = answer.body;
          if (fields.code_checked) { checked.value = fields.code_checked; code.value = fields.code; }
          var temperature = form.querySelector("input[name=temperature_c]");
          if (fields.temperature_c !== null && fields.temperature_c !== undefined) {
            temperature.value = Number(fields.temperature_c).toFixed(1);
          }
          codeFields();
          state.textContent = capture.getAttribute("data-done");
          state.className = "";
        })
        .catch(function (error) {
          capture.disabled = false;
          state.textContent = capture.getAttribute("data-unavailable").replace("{error}", String(error));
          state.className = "error";
        });
    });
  }
}());
