// dangjian — 驻村打卡: the browser's position and a photo, sent at once, or kept in the
// phone (IndexedDB) when there is no signal and sent later with the time it was taken.
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form) return;
  var status = document.getElementById("checkin-status");
  var say = function (key, arg, bad) {
    var s = form.getAttribute("data-" + key) || key;
    status.textContent = arg === undefined ? s : s.replace("{0}", arg);
    status.className = bad ? "alert" : "muted";
  };
  var buttons = form.querySelectorAll('button[name="kind"]');
  var busy = function (on) {
    buttons.forEach(function (b) { b.disabled = on; if (on) b.setAttribute("aria-busy", "true"); else b.removeAttribute("aria-busy"); });
  };
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
  // the queue is the signed-in account's: another account on the same phone never sends it
  var account = form.getAttribute("data-account") || "";
  var DB = "dangjian-checkins";
  var open = function () {
    return new Promise(function (ok, fail) {
      if (!window.indexedDB) { fail(new Error("no indexedDB")); return; }
      var r = indexedDB.open(DB, 1);
      r.onupgradeneeded = function () { r.result.createObjectStore("queue", { autoIncrement: true }); };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { fail(r.error); };
    });
  };
  var queue = function (entry) {
    return open().then(function (db) {
      return new Promise(function (ok, fail) {
        var tx = db.transaction("queue", "readwrite");
        tx.objectStore("queue").add(entry);
        tx.oncomplete = function () { ok(); };
        tx.onerror = function () { fail(tx.error); };
      });
    });
  };
  var queued = function () {
    return open().then(function (db) {
      return new Promise(function (ok, fail) {
        var out = [];
        var c = db.transaction("queue").objectStore("queue").openCursor();
        c.onsuccess = function () {
          var cur = c.result;
          if (cur) { out.push({ key: cur.key, value: cur.value }); cur.continue(); } else { ok({ db: db, items: out }); }
        };
        c.onerror = function () { fail(c.error); };
      });
    });
  };
  var send = function (e) {
    var fd = new FormData();
    fd.append("kind", e.kind);
    fd.append("lat", e.lat);
    fd.append("lng", e.lng);
    fd.append("accuracy", e.accuracy);
    fd.append("at", e.at);
    if (e.photo) fd.append("file", e.photo, "photo.jpg");
    return fetch("/api/v1/first-secretaries/checkins", {
      method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }
    });
  };
  // what is still queued goes out when the signal is back
  var flushing = false;
  var flush = function () {
    if (!navigator.onLine || flushing) return;
    flushing = true;
    queued().then(function (q) {
      var sent = 0, failed = [];
      var next = function (i) {
        if (i >= q.items.length) {
          flushing = false;
          if (failed.length) { say("sync-failed", failed.join("；"), true); return; }
          if (sent) { say("synced", sent); setTimeout(function () { location.reload(); }, 1200); }
          return;
        }
        var it = q.items[i];
        if (it.value.account !== account) { next(i + 1); return; }
        send(it.value).then(function (res) {
          // stored, or refused for good (past the offline window, not on duty any more): drop
          // it; signed out, throttled or a server error: keep it for the next try
          var again = res.status >= 500 || res.status === 401 || res.status === 408 || res.status === 429;
          if (!again) {
            var tx = q.db.transaction("queue", "readwrite");
            tx.objectStore("queue").delete(it.key);
          }
          if (res.ok) { sent += 1; next(i + 1); return; }
          // refused for good: say why, with the time it was taken
          res.json().then(function (body) {
            var why = (body.fields && body.fields.length) ? body.fields.map(function (f) { return f.message; }).join(" ") : (body.message || res.status);
            if (!again) failed.push(new Date(it.value.at).toLocaleString() + " " + why);
            next(i + 1);
          }).catch(function () { next(i + 1); });
        }).catch(function () { flushing = false; /* still no signal: keep it */ });
      };
      var mine = q.items.filter(function (it) { return it.value.account === account; }).length;
      if (mine) say("pending", mine);
      next(0);
    }).catch(function () { flushing = false; });
  };
  window.addEventListener("online", flush);
  flush();

  var kind = "in";
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { kind = b.value; });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (buttons[0] && buttons[0].disabled) return; // one clock-in at a time
    var photo = form.querySelector('input[type="file"]').files[0];
    if (!photo && form.getAttribute("data-require-photo")) { say("need-photo", undefined, true); return; }
    if (!navigator.geolocation) { say("no-position", undefined, true); return; }
    busy(true);
    say("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var entry = {
        account: account, kind: kind, lat: pos.coords.latitude, lng: pos.coords.longitude,
        accuracy: pos.coords.accuracy, at: new Date().toISOString(), photo: photo || null
      };
      var keep = function () {
        queue(entry).then(function () { say("queued"); busy(false); }).catch(function () { say("no-position", undefined, true); busy(false); });
      };
      if (!navigator.onLine) { keep(); return; }
      send(entry).then(function (res) {
        return res.json().then(function (body) {
          if (res.ok) {
            say(body.inside ? "inside" : "outside", body.distance_m);
            setTimeout(function () { location.reload(); }, 1200);
          } else {
            var why = (body.fields && body.fields.length) ? body.fields.map(function (f) { return f.message; }).join(" ") : (body.message || "");
            say("refused", why, true);
            busy(false);
          }
        });
      }).catch(keep);
    }, function () { say("no-position", undefined, true); busy(false); }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  });
})();
