// `lord monitor serve`'s dashboard in headless Chromium (Debian's, through
// npm's playwright-core): waits until live samples have arrived over
// server-sent events, saves a screenshot, and collects any Content-
// Security-Policy violation. Prints one JSON object; `monitor_web.rs`
// judges it.
//
// Usage: node monitor.cjs PAGE-URL SCREENSHOT-PATH

const { chromium } = require("playwright-core");

const [url, shot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const out = { blocked: [], errors: [], readings: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) out.blocked.push(m.text());
      else if (m.type() === "error") out.errors.push(m.text());
    });
    page.on("pageerror", (e) => out.errors.push(String(e)));
    // What the page itself reports as refused (the securitypolicyviolation
    // event), in case a violation never reaches the console.
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const response = await page.goto(url);
    out.status = response.status();
    out.csp = response.headers()["content-security-policy"] || null;
    const read = () => page.evaluate(() => ({
      points: Number(document.getElementById("points").textContent),
      cpu: document.getElementById("cpu").textContent,
      cores: document.getElementById("cores").textContent,
      status: document.getElementById("status").textContent,
      processes: document.querySelectorAll("#processes tr").length,
      plugins: [...document.querySelectorAll("#plugins tr")].map((tr) =>
        [...tr.cells].map((td) => td.textContent)),
    }));
    out.readings.push(await read());
    await page.waitForFunction(() => Number(document.getElementById("points").textContent) >= 1,
      null, { timeout: 30000 });
    out.readings.push(await read());
    await page.waitForFunction(() => Number(document.getElementById("points").textContent) >= 4,
      null, { timeout: 30000 });
    out.readings.push(await read());
    await page.screenshot({ path: shot, fullPage: true });
    out.violations = await page.evaluate(() => window.__violations);
  } catch (e) {
    out.failure = String(e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})();
