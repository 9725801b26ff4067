// zarr_browser.mjs - opens zarr_page.html in headless Chromium and prints
// what the page read (window.zarrResults) as JSON, for tests/test_zarr_js.py
// (not a node --test file). Exits non-zero on any page error.
//
//   node zarr_browser.mjs URL USER_DATA_DIR
import { launchChromium } from "./chromium.mjs";

const [url, userDataDir] = process.argv.slice(2);
if (!userDataDir) {
  console.error("usage: node zarr_browser.mjs URL USER_DATA_DIR");
  process.exit(2);
}

const context = await launchChromium(userDataDir);
const problems = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // A 404 is how a store says a chunk was never written (the fill value).
  const missing = /Failed to load resource: the server responded with a status of 404/;
  page.on("console", (m) => m.type() === "error" && !missing.test(m.text()) && problems.push(`console: ${m.text()}`));
  // FetchStore leaves the bodies of HEAD and 404 responses unread, which
  // Chromium reports as net::ERR_ABORTED; the values read are checked anyway.
  page.on("requestfailed", (r) => r.failure()?.errorText !== "net::ERR_ABORTED" &&
    problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(url);
  await page.waitForSelector("#result[data-done], #result[data-error]", { timeout: 60000 });
  const error = await page.getAttribute("#result", "data-error");
  if (error !== null) throw new Error(`page: ${error}`);
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(await page.evaluate(() => window.zarrResults)));
} finally {
  await context.close();
}
