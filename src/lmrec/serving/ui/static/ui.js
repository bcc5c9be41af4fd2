// The dashboard's behaviour: every action is a call to the public API with the key the
// user typed, sent as `Authorization: Bearer KEY`. No framework, no build step.
"use strict";

const lmrecUi = (() => {
  const KEY = "lmrecKey";

  function key() {
    return sessionStorage.getItem(KEY) || "";
  }

  function setupKeyForm() {
    const form = document.getElementById("key-form");
    const input = document.getElementById("api-key");
    const state = document.getElementById("key-state");
    const show = () => { state.textContent = key() ? "key set" : "no key"; };
    show();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) {
        sessionStorage.setItem(KEY, value);
      } else {
        sessionStorage.removeItem(KEY);
      }
      // servers that need a key for reads accept it from this cookie on /ui pages only
      document.cookie = "lmrec_key=" + encodeURIComponent(value) +
        "; path=/ui; SameSite=Strict" + (value ? "" : "; max-age=0");
      input.value = "";
      show();
      if (document.body.dataset.reload !== "no") location.reload();
    });
  }

  function say(text, kind) {
    const box = document.getElementById("message");
    box.hidden = false;
    box.className = kind || "info";
    box.textContent = text;
  }

  async function api(method, url, body) {
    const headers = {"Accept": "application/json"};
    if (key()) headers["Authorization"] = "Bearer " + key();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const detail = data && data.detail ? (typeof data.detail === "string" ?
        data.detail : JSON.stringify(data.detail)) : response.statusText;
      const errors = data && data.errors ? data.errors.map(
        (e) => e.msg || e.detail || e.name + ": " + (e.passed ? "passed" : "failed")
      ).join("; ") : "";
      throw new Error(response.status + ": " + detail + (errors ? " (" + errors + ")" : ""));
    }
    return data;
  }

  function models() {
    document.querySelectorAll("button.promote").forEach((button) => {
      button.addEventListener("click", async () => {
        const {name, version} = button.dataset;
        const force = button.parentElement.querySelector(".force-box").checked;
        const url = "/v1/models/" + encodeURIComponent(name) + "/versions/" +
          encodeURIComponent(version) + "/promote" + (force ? "?force=true" : "");
        button.disabled = true;
        try {
          const done = await api("POST", url);
          say("promoted " + done.name + " to " + done.version +
            (done.previous ? " (was " + done.previous + ")" : ""), "ok");
          setTimeout(() => location.reload(), 600);
        } catch (error) {
          say("promotion refused: " + error.message, "error");
          button.disabled = false;
        }
      });
    });
    document.querySelectorAll("button.rollback").forEach((button) => {
      button.addEventListener("click", async () => {
        const name = button.dataset.name;
        button.disabled = true;
        try {
          const done = await api("POST", "/v1/models/" + encodeURIComponent(name) + "/rollback");
          say("rolled " + done.name + " back to " + done.version, "ok");
          setTimeout(() => location.reload(), 600);
        } catch (error) {
          say("rollback refused: " + error.message, "error");
          button.disabled = false;
        }
      });
    });
  }

  // ---- live figures ---------------------------------------------------------------------
  const HISTORY = 150;  // points kept on the charts (5 minutes at one per 2 s)

  function lineChart(element, series) {
    const width = Math.max(320, element.clientWidth || 800);
    return new uPlot({
      width, height: 220,
      series: [{}, ...series.map((label, i) => ({
        label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
      }))],
      axes: [{}, {size: 60}],
      scales: {x: {time: true}},
    }, [[], ...series.map(() => [])], element);
  }

  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                   "#4b5563", "#db2777"];

  function metrics() {
    const times = [];
    const rpsSeries = {total: []};
    const p99Series = {};
    let rpsChart = null, p99Chart = null, p99Routes = "";
    const rpsElement = document.getElementById("rps-chart");
    const p99Element = document.getElementById("p99-chart");
    rpsChart = lineChart(rpsElement, ["all routes"]);

    async function tick() {
      let data;
      try {
        data = await api("GET", "/ui/data/metrics");
      } catch (error) {
        say("cannot read the figures: " + error.message, "error");
        return;
      }
      document.getElementById("window").textContent = data.window_s;
      document.getElementById("rps").textContent = data.rps.toFixed(2);
      document.getElementById("ctr").textContent = (100 * data.ctr).toFixed(2) + " %";
      document.getElementById("ctr-detail").textContent =
        data.clicks + " clicks / " + data.impressions + " shown";
      document.getElementById("events").textContent = data.events_ingested;
      document.getElementById("served").textContent = data.recommendations_served;
      const body = document.querySelector("#routes tbody");
      body.replaceChildren(...data.routes.map((r) => {
        const row = document.createElement("tr");
        for (const value of [r.method, r.route, r.requests, r.rps.toFixed(2),
                             r.p50_ms ?? "–", r.p99_ms ?? "–"]) {
          const cell = document.createElement("td");
          cell.textContent = value;
          row.appendChild(cell);
        }
        return row;
      }));
      times.push(Date.now() / 1000);
      rpsSeries.total.push(data.rps);
      for (const r of data.routes) {
        const label = r.method + " " + r.route;
        if (!(label in p99Series)) p99Series[label] = new Array(times.length - 1).fill(null);
        p99Series[label].push(r.p99_ms);
      }
      for (const values of Object.values(p99Series)) {
        while (values.length < times.length) values.push(null);
      }
      if (times.length > HISTORY) {
        times.shift();
        rpsSeries.total.shift();
        for (const values of Object.values(p99Series)) values.shift();
      }
      rpsChart.setData([times, rpsSeries.total]);
      const labels = Object.keys(p99Series);
      if (labels.join("|") !== p99Routes) {  // a new route: the chart gets a new series
        if (p99Chart) p99Chart.destroy();
        p99Chart = lineChart(p99Element, labels);
        p99Routes = labels.join("|");
      }
      p99Chart.setData([times, ...labels.map((l) => p99Series[l])]);
    }
    tick();
    setInterval(tick, 2000);
  }

  // ---- try it ---------------------------------------------------------------------------
  function itemLine(item, field) {
    const li = document.createElement("li");
    const title = document.createElement("span");
    title.className = "item";
    const shown = field && item.fields && item.fields[field] != null ? item.fields[field] : "";
    title.textContent = item.item_id + (shown ? " — " + shown : "");
    const score = document.createElement("span");
    score.className = "muted";
    score.textContent = " score " + item.score.toFixed(3);
    li.append(title, score);
    const why = item.explanation;
    if (why) {
      const parts = [];
      if (why.because_of.length) {
        parts.push("because of " + why.because_of.map(
          (c) => c.item_id + " (" + c.similarity.toFixed(2) + ")").join(", "));
      }
      if (why.shared_attributes.length) {
        parts.push("shares " + why.shared_attributes.map(
          (a) => a.attribute + "=" + a.value + " with " + a.history_items + " seen").join(", "));
      }
      if (why.model_signal) {
        parts.push("model rank " + why.model_signal.rank + " of " + why.model_signal.of);
      }
      if (parts.length) {
        const p = document.createElement("div");
        p.className = "why";
        p.textContent = parts.join("; ");
        li.appendChild(p);
      }
    }
    return li;
  }

  function tryIt() {
    const recForm = document.getElementById("rec-form");
    recForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData(recForm);
      const history = String(form.get("history")).split(",").map((s) => s.trim())
        .filter((s) => s);
      const field = String(form.get("field")).trim();
      const body = {k: Number(form.get("k")), model: form.get("model") || null, explain: true};
      if (String(form.get("user_id")).trim()) body.user_id = String(form.get("user_id")).trim();
      if (history.length) body.history = history;
      if (field) body.fields = [field];
      const list = document.getElementById("rec-results");
      const meta = document.getElementById("rec-meta");
      try {
        const data = await api("POST", "/v1/recommendations", body);
        meta.textContent = data.model + "@" + data.version +
          (data.cold_start ? " (cold start)" : "") + ", " + data.items.length + " items";
        list.replaceChildren(...data.items.map((item) => itemLine(item, field)));
      } catch (error) {
        meta.textContent = "";
        list.replaceChildren();
        say(error.message, "error");
      }
    });
    const searchForm = document.getElementById("search-form");
    searchForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData(searchForm);
      const field = String(form.get("field")).trim();
      const body = {query: String(form.get("query")), k: Number(form.get("k"))};
      if (form.get("model")) body.model = form.get("model");
      if (field) body.fields = [field];
      const list = document.getElementById("search-results");
      const meta = document.getElementById("search-meta");
      try {
        const data = await api("POST", "/v1/search", body);
        meta.textContent = data.model + "@" + data.version + ", " + data.items.length + " items";
        list.replaceChildren(...data.items.map((item) => itemLine(item, field)));
      } catch (error) {
        meta.textContent = "";
        list.replaceChildren();
        say(error.message, "error");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", setupKeyForm);
  return {api, models, metrics, tryIt};
})();
