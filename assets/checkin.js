// dangjian — 驻村打卡: the browser's position and a photo, sent at once, or kept in the
// phone (IndexedDB) when there is no signal and sent later with the time it was taken.
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form) return;
  var status = document.getElementById("checkin-status");
  var say = function (key, arg) {
    var s = form.getAttribute("data-" + key) || key;
    status.textContent = arg === undefined ? s : s.replace("{0}", arg);
  };
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
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
  var flush = function () {
    if (!navigator.onLine) return;
    queued().then(function (q) {
      var sent = 0;
      var next = function (i) {
        if (i >= q.items.length) {
          if (sent) { say("synced", sent); setTimeout(function () { location.reload(); }, 1200); }
          return;
        }
        var it = q.items[i];
        send(it.value).then(function (res) {
          // answered (stored, or refused for good, e.g. past the offline window): drop it
          if (res.status < 500) {
            var tx = q.db.transaction("queue", "readwrite");
            tx.objectStore("queue").delete(it.key);
            if (res.ok) sent += 1;
          }
          next(i + 1);
        }).catch(function () { /* still no signal: keep it */ });
      };
      if (q.items.length) say("pending", q.items.length);
      next(0);
    }).catch(function () {});
  };
  window.addEventListener("online", flush);
  flush();

  var kind = "in";
  form.querySelectorAll('button[name="kind"]').forEach(function (b) {
    b.addEventListener("click", function () { kind = b.value; });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var photo = form.querySelector('input[type="file"]').files[0];
    if (!photo && form.getAttribute("data-require-photo")) { say("need-photo"); return; }
    if (!navigator.geolocation) { say("no-position"); return; }
    say("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var entry = {
        kind: kind, lat: pos.coords.latitude, lng: pos.coords.longitude,
        accuracy: pos.coords.accuracy, at: new Date().toISOString(), photo: photo || null
      };
      var keep = function () {
        queue(entry).then(function () { say("queued"); }).catch(function () { say("no-position"); });
      };
      if (!navigator.onLine) { keep(); return; }
      send(entry).then(function (res) {
        return res.json().then(function (body) {
          if (res.ok) {
            say(body.inside ? "inside" : "outside", body.distance_m);
            setTimeout(function () { location.reload(); }, 1200);
          } else {
            status.textContent = body.message || "";
            if (body.fields && body.fields.length) {
              status.textContent = body.fields.map(function (f) { return f.message; }).join(" ");
            }
          }
        });
      }).catch(keep);
    }, function () { say("no-position"); }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  });
})();
