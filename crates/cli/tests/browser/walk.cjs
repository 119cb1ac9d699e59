// The registry's pages driven as a person would, in headless Chromium
// (Debian's, through npm's playwright-core): search, filter, open a plugin,
// copy its install line, visit its publisher, then the registry's
// insights; a screenshot of each step, and axe-core's accessibility check
// of the search, plugin, publisher and insights pages. Prints one JSON
// object; `registry_web.rs` judges it.
//
// Usage: node walk.cjs BASE-URL SCREENSHOT-DIR QUERY CATEGORY PERMISSION PLUGIN-ID

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const [base, shots, query, category, permission, pluginId] = process.argv.slice(2);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// axe is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy does not govern; the page itself stays strict.
async function audit(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
  }));
}

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const out = { steps: [], audits: {}, blocked: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await context.newPage();
    // Anything the CSP blocked (a script or style the page should not
    // carry) shows up as a console error.
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) out.blocked.push(m.text());
    });
    const shot = async (name) => {
      await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      out.steps.push(name);
    };

    await page.goto(`${base}/`);
    await shot("1-search");
    out.audits.search = await audit(page);

    // Keyboard first: type the words, choose the filters, press Enter.
    await page.getByLabel("Words").fill(query);
    await page.getByLabel("Category").selectOption(category);
    await page.getByLabel("Asks for permission").selectOption(permission);
    await Promise.all([page.waitForURL(/\?/), page.getByLabel("Words").press("Enter")]);
    out.filtered = await page.$$eval(".results h3 a", (as) => as.map((a) => a.getAttribute("href")));
    await shot("2-filtered");

    await Promise.all([
      page.waitForURL(new RegExp(`/plugins/${pluginId}$`)),
      page.click(`.results a[href="/plugins/${pluginId}"]`),
    ]);
    await shot("3-plugin");
    out.audits.plugin = await audit(page);
    out.shown = (await page.textContent("#install-line")).trim();
    await page.getByRole("button", { name: "Copy the install command" }).click();
    await page.getByText("Copied.").waitFor();
    out.copied = (await page.evaluate(() => navigator.clipboard.readText())).trim();

    await Promise.all([
      page.waitForURL(/\/publishers\//),
      page.click('a[href^="/publishers/"]'),
    ]);
    await shot("4-publisher");
    out.audits.publisher = await audit(page);

    // The registry-wide insights, reached from the navigation.
    await Promise.all([
      page.waitForURL(/\/insights$/),
      page.getByRole("navigation").getByRole("link", { name: "Insights" }).click(),
    ]);
    await shot("5-insights");
    out.audits.insights = await audit(page);
  } catch (e) {
    out.error = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})();
