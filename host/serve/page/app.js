// backprop serve's page: draw on #pad with pointer events; after each stroke (and while drawing,
// one request at a time) the canvas goes to POST /api/predict as a PNG, and the answer is drawn.
// window.bpState lets a test see when the latest drawing has been answered.
"use strict";

const state = window.bpState = { sent: 0, shown: 0, inFlight: 0, digit: null, strokes: 0 };
const $ = (id) => document.getElementById(id);

// ---- tabs ----
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    for (const p of document.querySelectorAll(".panel")) p.classList.toggle("hidden", p.id !== tab.dataset.tab);
    if (tab.dataset.tab === "model") loadModelTab();
  });
}

// ---- pictures of 784 values ----
// Grey: 0 white paper, 1 black ink. Diverging (as `backprop inspect`): blue negative, white zero,
// red positive, scaled by the largest magnitude.
function drawTile(canvas, values, diverging) {
  const side = Math.round(Math.sqrt(values.length));
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(side, side);
  let biggest = 1e-12;
  if (diverging) for (const v of values) biggest = Math.max(biggest, Math.abs(v));
  values.forEach((v, i) => {
    let r, g, b;
    if (diverging) {
      const s = Math.max(-1, Math.min(1, v / biggest)), fade = Math.round(255 * (1 - Math.abs(s)));
      r = s < 0 ? fade : 255; g = fade; b = s > 0 ? fade : 255;
    } else {
      r = g = b = Math.round(255 * (1 - Math.max(0, Math.min(1, v))));
    }
    img.data.set([r, g, b, 255], 4 * i);
  });
  ctx.putImageData(img, 0, 0);
}

function drawBars(el, outputs, digit) {
  el.replaceChildren(...outputs.map((v, d) => {
    const bar = document.createElement("div");
    bar.className = "bar" + (d === digit ? " top" : "");
    bar.innerHTML = `<span class="label">${d}</span><span class="track"><div class="fill"></div></span>` +
                    `<span class="value">${v.toFixed(3)}</span>`;
    bar.querySelector(".fill").style.width = `${Math.round(100 * Math.max(0, Math.min(1, v)))}%`;
    return bar;
  }));
}

function showAnalysis(r) {
  drawTile($("input"), r.input, false);
  drawTile($("saliency"), r.saliency, true);
  drawBars($("bars"), r.outputs, r.digit);
  $("prediction").textContent = String(r.digit);
  const hidden = r.hidden.length ? r.hidden[0] : [];
  $("hidden").replaceChildren(...hidden.map((a, j) => {
    const cell = document.createElement("div");
    const shade = Math.round(255 * (1 - a));
    cell.style.background = `rgb(${shade},${shade},${shade})`;
    cell.title = `neuron ${j}: ${a.toFixed(3)}`;
    return cell;
  }));
}

// ---- drawing ----
const pad = $("pad"), pen = pad.getContext("2d");
function clearPad() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, pad.width, pad.height);
  state.strokes = 0;
  state.digit = null;
  $("prediction").textContent = "-";
  for (const id of ["input", "saliency"]) $(id).getContext("2d").clearRect(0, 0, 28, 28);
  $("bars").replaceChildren();
  $("hidden").replaceChildren();
}
clearPad();
pen.lineWidth = 18;
pen.lineCap = pen.lineJoin = "round";
pen.strokeStyle = "#000";

let last = null, throttle = null;
const at = (e) => {
  const box = pad.getBoundingClientRect();
  return [(e.clientX - box.left) * pad.width / box.width, (e.clientY - box.top) * pad.height / box.height];
};
pad.addEventListener("pointerdown", (e) => {
  pad.setPointerCapture(e.pointerId);
  last = at(e);
  pen.beginPath();
  pen.arc(last[0], last[1], pen.lineWidth / 2, 0, 2 * Math.PI);
  pen.fillStyle = "#000";
  pen.fill();
  e.preventDefault();
});
pad.addEventListener("pointermove", (e) => {
  if (!last) return;
  const p = at(e);
  pen.beginPath();
  pen.moveTo(last[0], last[1]);
  pen.lineTo(p[0], p[1]);
  pen.stroke();
  last = p;
  if (!throttle && state.inFlight === 0) throttle = setTimeout(() => { throttle = null; if (last) send(); }, 150);
  e.preventDefault();
});
const end = () => {
  if (!last) return;
  last = null;
  state.strokes++;
  send();
};
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);
$("clear").addEventListener("click", clearPad);

async function send() {
  const seq = ++state.sent;
  state.inFlight++;
  try {
    const png = await new Promise((done) => pad.toBlob(done, "image/png"));
    const res = await fetch("api/predict", { method: "POST", headers: { "Content-Type": "image/png" }, body: png });
    const body = await res.json();
    if (seq < state.shown) return;  // a later drawing was answered first
    if (!res.ok) {
      $("status").textContent = body.error;
    } else {
      $("status").textContent = "";
      showAnalysis(body);
      state.digit = body.digit;
    }
    state.shown = seq;
  } catch (err) {
    $("status").textContent = `no answer from the server (${err})`;
    state.shown = Math.max(state.shown, seq);
  } finally {
    state.inFlight--;
  }
}

// ---- the model tab ----
let modelLoaded = false, mistakeIndex = 0, mistakeCount = 0;
async function getJson(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  return body;
}

async function loadModelTab() {
  if (modelLoaded) return;
  modelLoaded = true;
  try {
    const w = await getJson("api/weights");
    $("weights").replaceChildren(...w.tiles.map((tile) => {
      const c = document.createElement("canvas");
      c.width = c.height = w.side;
      drawTile(c, tile, true);
      return c;
    }));
  } catch (err) {
    $("weights").textContent = err.message;
  }
  try {
    const c = await getJson("api/confusion");
    $("confusion-note").textContent = `Rows: true label; columns: predicted. ${c.correct} / ${c.total} correct ` +
      `(${(100 * c.correct / c.total).toFixed(2)}%), ${c.misclassified} misclassified.`;
    const head = "<tr><th></th>" + c.confusion.map((_, j) => `<th>${j}</th>`).join("") + "</tr>";
    const rows = c.confusion.map((row, i) => {
      const n = row.reduce((a, b) => a + b, 0) || 1;
      return `<tr><th>${i}</th>` + row.map((v) => {
        const share = v / n, light = Math.round(255 * (1 - share));
        return `<td style="background: rgb(${light},${light},255); color: ${share > 0.5 ? "#fff" : "#000"}">${v}</td>`;
      }).join("") + "</tr>";
    });
    $("confusion").innerHTML = head + rows.join("");
    mistakeCount = c.misclassified;
    showMistake(0);
  } catch (err) {
    $("confusion-note").textContent = err.message;
    $("mistake-text").textContent = err.message;
  }
}

async function showMistake(k) {
  if (mistakeCount === 0) return;
  mistakeIndex = (k + mistakeCount) % mistakeCount;
  try {
    const m = await getJson(`api/misclassified?index=${mistakeIndex}`);
    drawTile($("mistake"), m.input, false);
    drawBars($("mistake-bars"), m.outputs, m.digit);
    $("mistake-pos").textContent = `${mistakeIndex + 1} / ${m.count}`;
    $("mistake-text").textContent = `Test image ${m.test_index}: labelled ${m.label}, read as ${m.predicted} ` +
                                    "(most confident mistakes first)";
  } catch (err) {
    $("mistake-text").textContent = err.message;
  }
}
$("prev").addEventListener("click", () => showMistake(mistakeIndex - 1));
$("next").addEventListener("click", () => showMistake(mistakeIndex + 1));

getJson("api/model").then((m) => {
  $("model-name").textContent = `${m.name}: ${m.layers.join("-")} network, ${m.parameters} parameters`;
}).catch(() => {});
