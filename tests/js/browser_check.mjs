// browser_check.mjs - drives the demo page in headless Chromium for
// tests/test_js.py (not a node --test file: pytest checks its output).
//
//   node browser_check.mjs URL SCREENSHOT USER_DATA_DIR Z[,Z...]
//
// For each z it moves the slider, waits for the canvas to say it drew that
// slice (data-ready="1", data-z), and reads the centre pixel of every voxel.
// Prints one JSON object: {width, height, stats, slices: {z: [[r,g,b], ...]}}
// with voxels in (y, x) order, x fastest. Exits non-zero on any page error.
import { launchChromium } from "./chromium.mjs";

const [url, screenshot, userDataDir, zList] = process.argv.slice(2);
if (!zList) {
  console.error("usage: node browser_check.mjs URL SCREENSHOT USER_DATA_DIR Z[,Z...]");
  process.exit(2);
}

const context = await launchChromium(userDataDir, {
  viewport: { width: 900, height: 800 },
});
const problems = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(url);
  const ready = page.waitForSelector('#slice[data-ready="1"]', { timeout: 30000 });
  const failed = page.waitForSelector("#slice[data-error]", { timeout: 30000 });
  await Promise.race([ready, failed.then(async () => {
    throw new Error(`demo error: ${await page.getAttribute("#slice", "data-error")}`);
  })]);

  const slices = {};
  for (const z of zList.split(",").map(Number)) {
    // Set the slider as a user would, then wait for that slice to be drawn.
    await page.$eval("#z", (el, value) => {
      el.value = String(value);
      el.dispatchEvent(new Event("input", { bubbles: true }));
    }, z);
    await page.waitForSelector(`#slice[data-ready="1"][data-z="${z}"]`, { timeout: 10000 });
    slices[z] = await page.$eval("#slice", (canvas) => {
      const nx = 64, ny = 64, scale = canvas.width / nx;
      const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      const out = [];
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++) {
          const i = ((y * scale + (scale >> 1)) * canvas.width + x * scale + (scale >> 1)) * 4;
          out.push([px[i], px[i + 1], px[i + 2]]);
        }
      }
      return out;
    });
  }
  const size = await page.$eval("#slice", (c) => [c.width, c.height]);
  const stats = await page.textContent("#stats");
  await page.screenshot({ path: screenshot, fullPage: true });
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ width: size[0], height: size[1], stats, slices }));
} finally {
  await context.close();
}
