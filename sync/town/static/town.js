// The dashboard's live part (#live) is refreshed in place every 30 s; the page itself, and any
// form on it, is never reloaded. After a logout or an expired session /live answers 401 and
// the refresh stops (the next click shows the login page).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var timer = setInterval(function () {
    fetch("/live", {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.status === 401) { clearInterval(timer); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (text) { if (text !== null) { live.innerHTML = text; } })
      .catch(function () { /* the town server is restarting: try again next time */ });
  }, 30000);
}());
