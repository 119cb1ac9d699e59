// `lord analytics report --html`'s page in headless Chromium (Debian's,
// through npm's playwright-core), opened from the file with the network
// refused: records every request the page tries beyond its own file,
// measures what each chart drew (the rendered size of its lines, bars and
// cells, not only that the elements exist), and saves a full-page
// screenshot. Prints one JSON object; `analytics.rs` judges it.
//
// Usage: node analytics.cjs PAGE-PATH SCREENSHOT-PATH

const { chromium } = require("playwright-core");
const { pathToFileURL } = require("url");

const [file, shot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const out = { requests: [], errors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
    const url = pathToFileURL(file).href;
    // Offline: anything but the page itself is refused and written down.
    await context.route("**/*", (route) => {
      if (route.request().url() === url) return route.continue();
      out.requests.push(route.request().url());
      return route.abort();
    });
    const page = await context.newPage();
    page.on("pageerror", (e) => out.errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") out.errors.push(m.text()); });
    await page.goto(url);
    out.charts = await page.evaluate(() => {
      const drawn = (selector) => [...document.querySelectorAll(selector)].map((el) => {
        const box = el.getBoundingClientRect();
        return { w: box.width, h: box.height };
      });
      const visible = (boxes) => boxes.filter((b) => b.w > 0 && b.h > 0).length;
      const lines = drawn("#latency-chart path.series");
      return {
        title: document.title,
        lines: lines.length,
        // A flat line has no height: drawn means extent in either direction.
        lines_visible: lines.filter((b) => b.w > 0 || b.h > 0).length,
        longest_line: Math.max(0, ...lines.map((b) => Math.max(b.w, b.h))),
        points: visible(drawn("#latency-chart circle.point")),
        bars: visible(drawn("#errors-chart rect.bar-calls")),
        error_bars: visible(drawn("#errors-chart rect.bar-errors")),
        cells: visible(drawn("#heat-map rect.heat")),
        busy_cells: [...document.querySelectorAll("#heat-map rect.heat")]
          .filter((r) => Number(r.getAttribute("fill-opacity")) > 0.1).length,
        scripts: document.querySelectorAll("script").length,
      };
    });
    await page.screenshot({ path: shot, fullPage: true });
  } catch (e) {
    out.failure = String(e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})();
