// admin-chart.js: the live chart of the admin view — events per second and connections over
// the last minutes, as two inline-SVG sparklines.
//
// The page samples GET /api/admin/stats on the view's refresh timer and keeps the points in a
// ring, also in sessionStorage so that a reload keeps the minutes already seen. The server
// keeps no history for it: no state on any node, no new API, and what the chart shows is what
// the tiles above it showed — at the price of a chart that starts empty in a new tab.

const SVG = 'http://www.w3.org/2000/svg'
const KEY = 'switchboard.admin.samples'
export const WINDOW_MS = 5 * 60 * 1000

export class Chart {
  /** @param {Object<string, Element>} svgs the <svg> of each series, by sample field */
  constructor (svgs) {
    this.svgs = svgs
    this.samples = restore()
  }

  // add records a sample {t, eps, conns} and redraws. A sample within a second of the last
  // one (a refresh by hand) replaces it.
  add (sample) {
    const cutoff = sample.t - WINDOW_MS
    this.samples = this.samples.filter((s) => s.t > cutoff && s.t < sample.t - 1000)
    this.samples.push(sample)
    try { sessionStorage.setItem(KEY, JSON.stringify(this.samples)) } catch {}
    this.draw(sample.t)
  }

  draw (now = Date.now()) {
    for (const [field, svg] of Object.entries(this.svgs)) {
      if (svg) drawSeries(svg, this.samples.map((s) => [s.t, s[field]]), now)
    }
  }
}

function restore () {
  try {
    const cutoff = Date.now() - WINDOW_MS
    return (JSON.parse(sessionStorage.getItem(KEY)) || []).filter((s) => s.t > cutoff && Number.isFinite(s.eps) && Number.isFinite(s.conns))
  } catch { return [] }
}

// drawSeries draws points [time, value] into svg at its size on the page: a line over a shaded
// area and a dot on the latest value, time running over the window to now, values from 0 to a
// little over the peak. Its caption (.chart-now, .chart-peak in the figure) and accessible name
// say the same in words.
function drawSeries (svg, points, now) {
  const W = Math.max(svg.clientWidth, 100)
  const H = Math.max(svg.clientHeight, 40)
  const pad = 4 // keeps the line and the dot off the edges
  const peak = Math.max(0, ...points.map(([, v]) => v))
  const top = peak > 0 ? peak * 1.15 : 1
  const x = (t) => (pad + (t - (now - WINDOW_MS)) / WINDOW_MS * (W - 2 * pad)).toFixed(1)
  const y = (v) => (H - pad - v / top * (H - 2 * pad)).toFixed(1)
  const line = points.map(([t, v]) => `${x(t)},${y(v)}`).join(' ')
  const last = points.length ? points[points.length - 1] : null
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  svg.replaceChildren(...[
    el('line', { class: 'chart-base', x1: 0, x2: W, y1: H - pad, y2: H - pad }),
    points.length > 1 ? el('path', { class: 'chart-area', d: `M${x(points[0][0])},${H - pad} L${line.replaceAll(' ', ' L')} L${x(last[0])},${H - pad} Z` }) : null,
    points.length > 1 ? el('polyline', { class: 'chart-line', points: line }) : null,
    last ? el('circle', { class: 'chart-dot', cx: x(last[0]), cy: y(last[1]), r: 3 }) : null].filter(Boolean))
  const fig = svg.closest('figure')
  const fmt = (v) => v == null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(1)
  fig.querySelector('.chart-now').textContent = fmt(last?.[1])
  fig.querySelector('.chart-peak').textContent = fmt(points.length ? peak : null)
  svg.setAttribute('aria-label', points.length
    ? `${fig.dataset.series}: ${fmt(last[1])} now, ${fmt(peak)} at most over the last ${Math.round(WINDOW_MS / 60000)} minutes (${points.length} samples)`
    : `${fig.dataset.series}: no samples yet`)
  svg.dataset.points = String(points.length)
}

function el (tag, attrs) {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  return e
}
