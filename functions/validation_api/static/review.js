// The validation page. Every text that comes from the API (album and artist names are read
// from a photo, so anyone can put anything there) is set with textContent or an input's
// value, never parsed as HTML. The link token lives in the URL fragment and is sent only
// in the Authorization header of this page's own API calls.
"use strict";

(function () {
  const PATTERN_LABELS = {
    "step-functions": "Step Functions",
    "durable-functions": "durable functions",
  };
  const STATUS_LABELS = {
    pending: "waiting",
    completed: "answered",
    rejected: "rejected",
    timeout: "timed out",
    not_waiting: "not waiting for a review",
  };
  const LINK_MESSAGES = {
    400: null,
    403: "This link is not valid. Open the link from the notification again, without changing it.",
    404: "There is no review for this link.",
    409: "These albums were already reviewed.",
    410: "This link has expired. The workflows continued with the albums as detected.",
  };

  const byId = (id) => document.getElementById(id);
  let token = "";
  let shown = [];

  function readToken() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    return (fragment.get("t") || "").trim();
  }

  function setState(kind, text) {
    const state = byId("state");
    state.className = "state " + kind;
    state.textContent = text;
  }

  function showNotice(text) {
    const notice = byId("notice");
    notice.textContent = text;
    notice.hidden = false;
  }

  async function call(method, path, body) {
    const options = {
      method: method,
      headers: { Authorization: "Bearer " + token },
      credentials: "omit",
      cache: "no-store",
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      return { status: 0, body: { message: "The service cannot be reached. Try again." } };
    }
    let payload = {};
    try {
      payload = await response.json();
    } catch (error) {
      payload = { message: "The service answered unexpectedly (" + response.status + ")." };
    }
    return { status: response.status, body: payload };
  }

  function formatTime(iso) {
    const moment = new Date(iso);
    return isNaN(moment.getTime()) ? iso : moment.toLocaleString();
  }

  function labelled(text, input, className) {
    const label = document.createElement("label");
    label.className = className;
    const caption = document.createElement("span");
    caption.textContent = text;
    const error = document.createElement("span");
    error.className = "field-error";
    error.hidden = true;
    label.append(caption, input, error);
    return label;
  }

  function textInput(name, value, index) {
    const input = document.createElement("input");
    input.type = "text";
    input.name = name;
    input.value = value;
    input.maxLength = 200;
    input.required = true;
    input.autocomplete = "off";
    input.dataset.field = name;
    input.dataset.index = String(index);
    return input;
  }

  function yearInput(value, index, maxYear) {
    const input = document.createElement("input");
    input.type = "number";
    input.name = "year";
    input.inputMode = "numeric";
    input.min = "1900";
    input.max = String(maxYear);
    input.step = "1";
    input.required = true;
    input.value = String(value);
    input.dataset.field = "year";
    input.dataset.index = String(index);
    return input;
  }

  function renderAlbums(albums, maxYear, editable) {
    const list = byId("albums");
    list.replaceChildren();
    albums.forEach(function (album, position) {
      const item = document.createElement("li");
      item.className = "album";
      item.dataset.position = String(position);
      const index = document.createElement("span");
      index.className = "index";
      index.textContent = String(album.albumIndex);
      const name = textInput("albumName", album.albumName, album.albumIndex);
      const artist = textInput("artist", album.artist, album.albumIndex);
      const year = yearInput(album.year, album.albumIndex, maxYear);
      [name, artist, year].forEach(function (input) {
        input.disabled = !editable;
        input.setAttribute("aria-label", input.name + " of album " + album.albumIndex);
        input.addEventListener("input", function () {
          const original = String(album[input.dataset.field]);
          input.classList.toggle("changed", input.value.trim() !== original);
        });
      });
      item.append(
        index,
        labelled("Album", name, "name"),
        labelled("Artist", artist, "artist"),
        labelled("Year", year, "year"),
      );
      list.append(item);
    });
  }

  function renderPatterns(patterns) {
    const list = byId("patterns");
    list.replaceChildren();
    patterns.forEach(function (side) {
      const item = document.createElement("li");
      const label = PATTERN_LABELS[side.workflowType] || side.workflowType;
      const status = STATUS_LABELS[side.status] || side.status;
      item.textContent = label + ": " + status;
      item.dataset.workflowType = side.workflowType;
      list.append(item);
    });
  }

  function describeAnswer(answer) {
    if (!answer) {
      return "";
    }
    if (answer.status === "rejected") {
      return "Rejected: " + (answer.reason || "");
    }
    const count = answer.corrections.length;
    return count === 0 ? "Accepted as detected." : "Accepted with " + count + " correction(s).";
  }

  function render(review) {
    shown = review.albums;
    const pending = review.state === "pending";
    const maxYear = new Date(review.serverTime || Date.now()).getUTCFullYear();
    if (pending) {
      setState("pending", "Waiting for your review");
    } else if (review.state === "answered") {
      setState("answered", "Already reviewed. " + describeAnswer(review.answer));
    } else {
      setState("expired", "This review has expired; the workflows kept the albums as detected.");
    }
    const expiry = byId("expiry");
    expiry.textContent = (pending ? "Answer before " : "Expired at ") + formatTime(review.expiresAt);
    expiry.hidden = false;
    const photo = byId("photo");
    if (review.photoUrl) {
      photo.src = review.photoUrl;
      photo.hidden = false;
      byId("photo-missing").hidden = true;
    } else {
      photo.hidden = true;
      byId("photo-missing").hidden = false;
    }
    renderPatterns(review.patterns);
    renderAlbums(review.albums, maxYear, pending);
    ["save", "accept", "reject-open"].forEach(function (id) {
      byId(id).disabled = !pending;
    });
    byId("review").hidden = false;
  }

  function clearErrors() {
    document.querySelectorAll(".field-error").forEach(function (element) {
      element.textContent = "";
      element.hidden = true;
    });
    document.querySelectorAll("[aria-invalid]").forEach(function (element) {
      element.removeAttribute("aria-invalid");
    });
  }

  function showFieldErrors(fields) {
    Object.keys(fields || {}).forEach(function (path) {
      const match = /^albums\[(\d+)\]\.(\w+)$/.exec(path);
      let target = null;
      let message = byId("form-error");
      if (match) {
        const row = document.querySelector('.album[data-position="' + match[1] + '"]');
        target = row && row.querySelector('input[data-field="' + match[2] + '"]');
        if (target) {
          message = target.parentElement.querySelector(".field-error");
        }
      } else if (path === "reason") {
        target = byId("reason");
        message = byId("reason-error");
      }
      if (target) {
        target.setAttribute("aria-invalid", "true");
      }
      message.textContent = (match ? match[2] : path) + " " + fields[path];
      message.hidden = false;
    });
  }

  function yearValue(text) {
    // Whole numbers go as numbers; anything else goes as typed, and the API says why not.
    return /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : text;
  }

  function collectAlbums() {
    return Array.from(document.querySelectorAll(".album")).map(function (row, position) {
      const value = (field) => row.querySelector('input[data-field="' + field + '"]').value;
      return {
        albumIndex: shown[position].albumIndex,
        albumName: value("albumName"),
        artist: value("artist"),
        year: yearValue(value("year")),
      };
    });
  }

  function setBusy(busy) {
    document.querySelectorAll("button").forEach(function (button) {
      button.disabled = busy;
    });
  }

  async function answer(action, body) {
    clearErrors();
    setBusy(true);
    const result = await call("POST", "/api/review/" + action, body);
    if (result.status === 200) {
      const label = (p) => PATTERN_LABELS[p] || p;
      const names = result.body.resumed.map(label);
      // Answered but not resumed, and not because its wait ended: the answer is kept.
      const held = result.body.patterns
        .filter((p) => p.awaitsRedelivery)
        .map((p) => label(p.workflowType));
      const box = byId("result");
      box.textContent =
        (names.length
          ? "Thank you. Resumed: " + names.join(" and ") + "."
          : "Thank you. Your answer was recorded; no workflow was waiting any more.") +
        (held.length
          ? " " + held.join(" and ") + " could not be resumed yet; your answer is kept " +
            "and will be sent again."
          : "");
      box.hidden = false;
      byId("reject-form").hidden = true;
      await load();
      return;
    }
    setBusy(false);
    if (result.status === 400) {
      showFieldErrors(result.body.fields);
      return;
    }
    const message = LINK_MESSAGES[result.status] || result.body.message || "Something went wrong.";
    showNotice(message);
    await load();
  }

  async function load() {
    const result = await call("GET", "/api/review");
    if (result.status !== 200) {
      const message = LINK_MESSAGES[result.status] || result.body.message || "Something went wrong.";
      setState(result.status === 410 ? "expired" : "invalid", message);
      byId("review").hidden = true;
      return;
    }
    render(result.body);
  }

  function start() {
    token = readToken();
    if (!token) {
      setState("invalid", LINK_MESSAGES[403]);
      return;
    }
    byId("albums-form").addEventListener("submit", function (event) {
      event.preventDefault();
      answer("correct", { albums: collectAlbums() });
    });
    byId("accept").addEventListener("click", function () {
      answer("accept", {});
    });
    byId("reject-open").addEventListener("click", function () {
      byId("reject-form").hidden = false;
      byId("reason").focus();
    });
    byId("reject-cancel").addEventListener("click", function () {
      byId("reject-form").hidden = true;
    });
    byId("reject-form").addEventListener("submit", function (event) {
      event.preventDefault();
      answer("reject", { reason: byId("reason").value });
    });
    load();
  }

  start();
})();
