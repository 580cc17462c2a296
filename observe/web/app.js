// The live page of observe: draws /api/tree as a collapsible hierarchy and
// keeps it current from /api/events. Plain DOM, no framework, no network
// beyond this server: it has to work offline and be embedded in a binary.
"use strict";

(() => {
  const MAX_CHILDREN = 1000; // per supervisor; the API says how many it left out
  const MAX_FEED = 200;
  const POLL_MS = 2000;

  const $ = (id) => document.getElementById(id);
  const treeEl = $("tree"), feedEl = $("feed"), filterEl = $("filter"), tokenEl = $("token");
  const nodes = new Map(); // path -> {li, row, children (ul, for supervisors)}
  let faults = false;
  let filter = "";
  let refreshTimer = 0, inFlight = false, again = false;

  // el builds an element with a class and optional text.
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmtDuration(s) {
    if (!s) return "";
    if (s < 60) return Math.floor(s) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
    return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
  }

  function toast(msg) {
    const t = $("toast");
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
  }

  // --- the tree -----------------------------------------------------------

  // node returns the DOM node for path, creating it the first time. A node
  // is kept across refreshes so that <details> stays open or closed as the
  // user left it and the restart counter can animate in place.
  function node(path, isSup) {
    let n = nodes.get(path);
    if (n && n.isSup === isSup) return n;
    if (n) n.li.remove();
    const li = el("li", isSup ? "sup" : "child");
    li.dataset.path = path;
    const row = el("div", "row");
    for (const c of ["dot", "state", "name", "kind", "node", "restarts", "health", "uptime", "strategy", "intensity", "mailbox", "err", "actions"]) {
      row.appendChild(el("span", c));
    }
    row.querySelector(".restarts").title = "automatic restarts";
    row.querySelector(".restarts").append("\u21bb ", el("b", "", "0"));
    n = { li, row, isSup, restarts: -1 };
    if (isSup) {
      const det = el("details");
      det.open = true;
      const sum = el("summary");
      sum.appendChild(row);
      det.appendChild(sum);
      n.children = el("ul");
      det.appendChild(n.children);
      li.appendChild(det);
    } else {
      li.appendChild(row);
    }
    nodes.set(path, n);
    return n;
  }

  function setText(row, cls, text, title) {
    const e = row.querySelector("." + cls);
    if (e.textContent !== text) e.textContent = text;
    if (title !== undefined && e.title !== title) e.title = title;
    return e;
  }

  function setRestarts(n, value) {
    const r = n.row.querySelector(".restarts");
    if (value === n.restarts) return;
    const grew = n.restarts >= 0 && value > n.restarts;
    n.restarts = value;
    r.querySelector("b").textContent = String(value);
    r.classList.toggle("nonzero", value > 0);
    if (grew) {
      r.classList.remove("bump");
      void r.offsetWidth; // restart the animation
      r.classList.add("bump");
    }
  }

  // drawChild updates the node of one child (and, for a sub-supervisor, its
  // subtree) from the snapshot.
  function drawChild(c, seen) {
    const sup = c.supervisor;
    const n = node(c.path, !!sup);
    seen.add(c.path);
    const row = n.row;
    const down = sup && !sup.running && c.state === "running";
    row.className = "row st-" + (down ? "down" : c.state) + (filter && c.name.toLowerCase().includes(filter) ? " match" : "");
    setText(row, "state", c.state);
    setText(row, "name", c.name, c.path);
    const kind = setText(row, "kind", c.kind);
    kind.className = "kind kind-" + c.kind;
    setText(row, "node", c.node ? "on " + c.node : "", c.node ? "runs on node " + c.node : "");
    setRestarts(n, c.restarts);
    const h = setText(row, "health", c.health.state, c.health.reason || c.health.state);
    h.className = "health h-" + c.health.state;
    setText(row, "uptime", c.state === "running" ? "up " + fmtDuration(c.uptime_seconds) : "");
    setText(row, "mailbox", c.actor ? `mailbox ${c.actor.mailbox_depth} \u00b7 ${c.actor.processed} processed \u00b7 ${c.actor.dead_letters} dead` : "");
    setText(row, "err", c.last_error ? "\u26a0 " + c.last_error : "", c.last_error || "");
    drawActions(row, c, c.path.slice(0, -(c.name.length + 1)));
    if (sup) drawSupervisorBody(n, sup, seen);
    return n;
  }

  function drawSupervisorBody(n, s, seen) {
    setText(n.row, "strategy", s.strategy);
    const hot = s.max_restarts > 0 && s.restarts_in_window >= s.max_restarts;
    const i = setText(n.row, "intensity", `intensity ${s.restarts_in_window}/${s.max_restarts} in ${s.period_seconds}s`);
    i.classList.toggle("hot", hot);
    const kids = s.children.map((c) => drawChild(c, seen).li);
    if (s.children_omitted) {
      const key = s.path + "\u0000omitted";
      seen.add(key);
      let o = nodes.get(key);
      if (!o) {
        o = { li: el("li", "omitted") };
        nodes.set(key, o);
      }
      o.li.textContent = `\u2026 ${s.children_omitted} more ${filter ? "not matching or " : ""}not shown (filter by name to find them)`;
      kids.push(o.li);
    }
    // Put the children in order, moving only the ones out of place.
    const ul = n.children;
    kids.forEach((li, idx) => {
      if (ul.children[idx] !== li) ul.insertBefore(li, ul.children[idx] || null);
    });
  }

  function drawActions(row, c, supPath) {
    const a = row.querySelector(".actions");
    if (!faults) {
      if (a.childElementCount) a.replaceChildren();
      return;
    }
    // The server says which actions it accepts in the child's state: no
    // restart of a running child, no crash of one that cannot crash.
    const want = (c.actions || []).join(" ");
    if (a.dataset.want === want) return;
    a.dataset.want = want;
    a.replaceChildren();
    if (!want) return;
    for (const action of want.split(" ")) {
      const b = el("button", action, action);
      b.type = "button";
      b.addEventListener("click", (ev) => {
        ev.preventDefault(); // a button in a <summary> must not fold it
        ev.stopPropagation();
        inject(action, supPath, c.name);
      });
      a.appendChild(b);
    }
  }

  function drawTree(snap) {
    const seen = new Set();
    const root = snap.root;
    const n = node(root.path, true);
    seen.add(root.path);
    n.row.className = "row st-" + (root.running ? "running" : "stopped");
    setText(n.row, "state", root.running ? "running" : "stopped");
    setText(n.row, "name", root.name, root.path);
    setText(n.row, "kind", "supervisor");
    setText(n.row, "err", root.error ? "\u26a0 " + root.error : "", root.error || "");
    n.row.querySelector(".restarts").style.display = "none";
    n.row.querySelector(".health").style.display = "none";
    drawSupervisorBody(n, root, seen);
    if (treeEl.firstChild !== n.li) treeEl.replaceChildren(n.li);
    for (const [path, m] of nodes) {
      if (!seen.has(path)) {
        m.li.remove();
        nodes.delete(path);
      }
    }
    const t = snap.totals;
    const tot = $("totals");
    tot.replaceChildren();
    for (const [label, v] of [["supervisors", t.supervisors], ["workers", t.workers], ["actors", t.actors], ["processes", t.processes],
      ["running", t.running], ["restarts", t.restarts], ["unhealthy", t.unhealthy]]) {
      const s = el("span");
      s.append(el("b", "", String(v)), " " + label);
      s.dataset.total = label;
      tot.appendChild(s);
    }
    drawCluster(snap.cluster);
    const notice = $("notice");
    notice.hidden = !filter;
    notice.textContent = filter ? `Showing children whose name contains \u201c${filter}\u201d, and their supervisors.` : "";
  }

  // drawCluster lists the cluster's members (only when the observer has
  // one): up or down, and how long ago each was last heard from.
  function drawCluster(cl) {
    const box = $("cluster");
    box.hidden = !cl;
    document.body.classList.toggle("has-cluster", !!cl);
    if (!cl) return;
    const head = el("span");
    head.append(el("b", "", "Cluster"), " seen from node ", el("b", "", cl.node), ":");
    const items = [head];
    for (const m of cl.members) {
      const s = el("span", "member " + (m.up ? "m-up" : "m-down"));
      s.dataset.member = m.name;
      s.append(el("i", "dot"), " " + m.name + " " + (m.up ? "up" : "down"));
      if (!m.self && m.last_heartbeat && !m.last_heartbeat.startsWith("0001")) {
        const age = m.heartbeat_age_seconds < 1 ? Math.round(m.heartbeat_age_seconds * 1000) + " ms" : fmtDuration(m.heartbeat_age_seconds);
        s.append(el("small", "", " heard " + age + " ago" + (m.rtt_seconds ? ", rtt " + (m.rtt_seconds * 1000).toFixed(2) + " ms" : "")));
      }
      if (m.self) s.append(el("small", "", " (this node)"));
      items.push(s);
    }
    box.replaceChildren(...items);
  }

  async function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const q = new URLSearchParams({ max_children: String(MAX_CHILDREN) });
      if (filter) q.set("filter", filter);
      const res = await fetch("api/tree?" + q, { cache: "no-store" });
      if (!res.ok) throw new Error((await res.json()).error || res.statusText);
      drawTree(await res.json());
      if (detailPath && $("detail").open) showDetail(detailPath, true);
    } catch (err) {
      $("conn").className = "conn conn-down";
      $("conn").textContent = "tree: " + err.message;
    } finally {
      inFlight = false;
      if (again) { again = false; scheduleRefresh(); }
    }
  }

  // scheduleRefresh coalesces the refreshes that a burst of events asks for.
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = 0; refresh(); }, 150);
  }

  // --- the event feed -----------------------------------------------------

  const kindClass = {
    child_failed: "ev-bad", child_start_failed: "ev-bad", intensity_exceeded: "ev-bad",
    child_abandoned: "ev-bad", health_restart: "ev-bad", supervisor_stopped: "ev-warn",
    child_restarted: "ev-warn", child_restart_scheduled: "ev-warn", health_changed: "ev-warn",
    child_started: "ev-ok", supervisor_started: "ev-ok",
  };

  function addFeed(li) {
    li.classList.add("new");
    feedEl.insertBefore(li, feedEl.firstChild);
    while (feedEl.childElementCount > MAX_FEED) feedEl.lastChild.remove();
  }

  function onEvent(ev) {
    const path = ev.child ? ev.supervisor + "/" + ev.child : ev.supervisor;
    const li = el("li", kindClass[ev.kind] || "");
    li.dataset.kind = ev.kind;
    li.dataset.path = path;
    li.dataset.id = String(ev.id);
    const t = new Date(ev.time);
    li.append(el("time", "", t.toLocaleTimeString(undefined, { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0")),
      el("span", "ev-kind", ev.kind), el("span", "ev-path", path));
    if (ev.restarts) li.append(" \u21bb" + ev.restarts);
    if (ev.delay_seconds) li.append(" after " + ev.delay_seconds.toFixed(2) + "s");
    if (ev.health) li.append(" " + ev.health.state + (ev.health.reason ? ": " + ev.health.reason : ""));
    if (ev.error) li.append(el("span", "ev-err", ev.error));
    li.hidden = !!filter && !path.toLowerCase().includes(filter);
    addFeed(li);
    // Tick the counter at once; the refresh that follows fills in the rest.
    const n = nodes.get(path);
    if (n && ev.child && ev.restarts > n.restarts) setRestarts(n, ev.restarts);
    scheduleRefresh();
  }

  function connect() {
    // last_event_id=0 replays the buffered history on first load; on a
    // reconnect the browser sends Last-Event-ID and the server resumes there.
    const es = new EventSource("api/events?last_event_id=0");
    const conn = $("conn");
    es.onopen = () => { conn.className = "conn conn-live"; conn.textContent = "live"; scheduleRefresh(); };
    es.onerror = () => { conn.className = "conn conn-connecting"; conn.textContent = "reconnecting"; };
    es.onmessage = (m) => {
      try { onEvent(JSON.parse(m.data)); } catch (err) { console.error("bad event", err, m.data); }
    };
    es.addEventListener("gap", (m) => {
      const d = JSON.parse(m.data);
      addFeed(el("li", "ev-gap", `\u2026 ${d.missed} events missed (the stream fell behind)`));
      scheduleRefresh();
    });
    es.addEventListener("reset", () => {
      addFeed(el("li", "ev-gap", "\u2026 the server restarted; events may be missing"));
      scheduleRefresh();
    });
  }

  // --- child detail -------------------------------------------------------

  // detailPath is the child whose detail is open; the detail follows the
  // tree's refreshes while it is, so a crash-looping child's output stays
  // current.
  let detailPath = "";

  // showDetail opens the detail of the child at path: what the tree shows,
  // plus, when its last failure was a panic, where it panicked and the
  // stack, and, for a child that keeps its output (an OS process), its last
  // lines, all of which only /api/child gives. quiet (a refresh of an open
  // detail) reports no error: the next refresh tries again.
  async function showDetail(path, quiet) {
    let d;
    try {
      const res = await fetch("api/child?" + new URLSearchParams({ path }), { cache: "no-store" });
      d = await res.json();
      if (!res.ok) throw new Error(d.error || res.statusText);
    } catch (err) {
      if (!quiet) toast(`detail of ${path}: ${err.message}`);
      return;
    }
    const dlg = $("detail");
    if (quiet && (!dlg.open || detailPath !== path)) return; // closed or moved on meanwhile
    detailPath = path;
    $("detail-title").textContent = d.path;
    const facts = $("detail-facts");
    facts.replaceChildren();
    const rows = [["kind", d.kind], ["state", d.state], ["restarts", String(d.restarts)],
      ["health", d.health.state + (d.health.reason ? ": " + d.health.reason : "")],
      ["policies", d.restart_policy + ", " + d.shutdown_policy], ["last error", d.last_error || "none"]];
    if (d.node) rows.push(["node", d.node]);
    for (const [k, v] of rows) facts.append(el("dt", "", k), el("dd", "", v));
    $("detail-panic").hidden = !d.panic;
    $("detail-at").textContent = d.panic ? d.panic.at || "(unknown)" : "";
    $("detail-stack").textContent = d.panic ? d.panic.stack : "";
    drawOutput(d.output || []);
    if (!dlg.open) {
      dlg.showModal();
      const pre = $("detail-output-lines");
      pre.scrollTop = pre.scrollHeight;
    }
  }

  // drawOutput shows a child's last output lines, oldest first, so the
  // newest is at the bottom, and keeps the newest in view unless the user
  // has scrolled up to read older ones. textContent: the lines are the
  // program's bytes, never markup.
  function drawOutput(lines) {
    const box = $("detail-output"), pre = $("detail-output-lines");
    box.hidden = !lines.length;
    $("detail-output-count").textContent = lines.length ? `(${lines.length} line${lines.length === 1 ? "" : "s"}, newest last)` : "";
    const text = lines.join("\n");
    if (pre.textContent === text) return;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = text;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  treeEl.addEventListener("click", (ev) => {
    const target = ev.target.closest(".child .name, .row .err");
    if (!target || (target.classList.contains("err") && !target.textContent)) return;
    const li = target.closest("li[data-path]");
    if (!li || li.dataset.path.indexOf("/") < 0) return; // the root is no child
    ev.preventDefault(); // a click in a <summary> must not fold it
    showDetail(li.dataset.path);
  });

  // --- fault injection ----------------------------------------------------

  async function inject(action, supervisor, child) {
    const token = tokenEl.value.trim();
    if (!token) { toast("Enter the bearer token first."); tokenEl.focus(); return; }
    sessionStorage.setItem("airssys-token", token);
    try {
      const res = await fetch("api/children/" + action, {
        method: "POST",
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: JSON.stringify({ supervisor, child }),
      });
      const body = await res.json();
      toast(res.ok ? `${action} ${supervisor}/${child}: done` : `${action} failed: ${body.error}`);
    } catch (err) {
      toast(`${action} failed: ${err.message}`);
    }
    scheduleRefresh();
  }

  // --- wiring -------------------------------------------------------------

  let filterTimer = 0;
  filterEl.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      filter = filterEl.value.trim().toLowerCase();
      for (const li of feedEl.children) {
        li.hidden = !!filter && !!li.dataset.path && !li.dataset.path.toLowerCase().includes(filter);
      }
      refresh();
    }, 200);
  });
  $("feed-clear").addEventListener("click", () => feedEl.replaceChildren());

  async function start() {
    try {
      const cfg = await (await fetch("api/config", { cache: "no-store" })).json();
      faults = !!cfg.fault_injection;
    } catch (err) { /* read-only, then */ }
    if (faults) {
      tokenEl.hidden = false;
      tokenEl.value = sessionStorage.getItem("airssys-token") || "";
      document.body.classList.add("faults");
    }
    await refresh();
    connect();
    setInterval(refresh, POLL_MS);
  }
  start();
})();
