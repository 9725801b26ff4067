// neuroglancer_render.mjs - drives the real Neuroglancer client in headless
// Chromium for tests/test_neuroglancer_render.py (not a node --test file:
// pytest checks its output).
//
//   node neuroglancer_render.mjs URL PLAN_JSON OUT_DIR USER_DATA_DIR
//
// URL is the client's index.html. PLAN_JSON is a file holding
// {"views": [{"name": ..., "state": {...}}, ...]}: for each view the script
// sets the URL fragment to "#!" + JSON(state) (Neuroglancer restores its state
// on hashchange), waits until the state is applied, the data source loaded,
// the shader compiled and the viewer ready (viewer.isReady(): every visible
// chunk in GPU memory, the check Neuroglancer's own screenshot tool uses), lets
// two frames be drawn and saves a PNG of the cross-section panel as
// OUT_DIR/NAME.png.
//
// Prints one JSON object: {webgl: {vendor, renderer}, views: {NAME: {file,
// width, height, position, crossSectionScale}}, responses: [{url, status,
// range, contentRange, view}]} (view: the name of the view whose state was
// set when the response came, so a response tagged with view i was requested
// under view i's state or an earlier one). Exits non-zero (the message on
// stderr) on any page error, console error, failed request, HTTP error,
// shader error or timeout.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import path from "node:path";

const [url, planFile, outDir, userDataDir] = process.argv.slice(2);
if (!userDataDir) {
  console.error("usage: node neuroglancer_render.mjs URL PLAN_JSON OUT_DIR USER_DATA_DIR");
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, "utf8"));
const READY_TIMEOUT = Number(process.env.NG_READY_TIMEOUT_MS || 60000);

// WebGL 2 without a GPU: ANGLE on SwiftShader (software). Debian's Chromium
// 156 headless gives that even with --disable-gpu or no GL flag at all
// (measured; playwright-core also adds --enable-unsafe-swiftshader and
// --force-color-profile=srgb by default), so these only say it explicitly,
// for Chromium builds whose defaults differ. The renderer used is printed.
const args = [
  "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--force-color-profile=srgb",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic",
];

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args,
  viewport: { width: 1100, height: 800 },
  deviceScaleFactor: 1,
});
const problems = [];
const responses = [];
let currentView = plan.views[0]?.name ?? null;
let exitCode = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" &&
    problems.push(`console: ${m.text()} (${m.location()?.url ?? "?"})`));
  context.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  context.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    responses.push({
      url: r.url(), status: r.status(), range: r.request().headers()["range"] ?? null,
      contentRange: r.headers()["content-range"] ?? null, view: currentView,
    });
  });

  const first = plan.views[0];
  await page.goto(`${url}#!${encodeURIComponent(JSON.stringify(first.state))}`);
  await page.waitForFunction(() => window.viewer !== undefined, null, { timeout: 30000 })
    .catch(() => { throw new Error("window.viewer never appeared: the Neuroglancer client did not start"); });

  const webgl = await page.evaluate(() => {
    const gl = window.viewer.display.gl;
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    return {
      version: gl.getParameter(gl.VERSION),
      vendor: gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR),
      renderer: gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER),
    };
  });

  const views = {};
  for (const [i, view] of plan.views.entries()) {
    if (i > 0) {
      currentView = view.name;
      await page.evaluate((s) => { window.location.hash = "#!" + encodeURIComponent(s); },
        JSON.stringify(view.state));
    }
    const want = { position: view.state.position, shader: view.state.layers[0].shader,
      zoom: view.state.crossSectionScale };
    // Ready can be seen a moment before Neuroglancer has counted the chunks
    // the new state needs (its backend computes them asynchronously): when
    // it is gone two frames later, wait again (a few times).
    let info;
    for (let attempt = 1; ; ++attempt) {
      try {
        await page.waitForFunction((want) => {
          const v = window.viewer;
          const pos = Array.from(v.navigationState.position.value);
          if (pos.length !== want.position.length ||
              pos.some((p, j) => Math.abs(p - want.position[j]) > 1e-6)) return false;
          // The zoom too: two views may differ only in it (it picks the scale).
          if (want.zoom !== undefined &&
              Math.abs(v.navigationState.zoomFactor.value / want.zoom - 1) > 1e-6) return false;
          const layer = v.layerManager.managedLayers[0]?.layer;
          if (!layer) return false;
          for (const source of layer.dataSources) {
            const err = source.loadState?.error;
            if (err) throw new Error(`FATAL data source ${source.spec?.url}: ${err.message ?? err}`);
            if (source.loadState === undefined) return false;
          }
          if (layer.fragmentMain?.value !== want.shader) return false;
          const err = layer.shaderError?.value;
          if (err) throw new Error(`FATAL shader error: ${JSON.stringify(err)}`);
          // What Neuroglancer's screenshot tool waits for: pending chunk updates
          // flushed, every visible chunk in GPU memory, every layer loaded.
          return v.isReady();
        }, want, { timeout: READY_TIMEOUT, polling: 100 });
      } catch (e) {
        const fatal = e.message.match(/FATAL (.*)/);
        if (fatal) throw new Error(`view ${view.name}: ${fatal[1]}`);
        const status = await page.evaluate(() => {
          const v = window.viewer;
          const layer = v.layerManager.managedLayers[0]?.layer;
          return {
            position: Array.from(v.navigationState.position.value),
            layerReady: layer?.isReady, displayReady: v.display.isReady(),
            shaderError: layer?.shaderError?.value ?? null,
            dataSources: layer?.dataSources?.map((d) => d.spec?.url),
          };
        }).catch((x) => String(x));
        throw new Error(`view ${view.name}: Neuroglancer not ready after ${READY_TIMEOUT} ms ` +
          `(${e.message.split("\n")[0]}); viewer: ${JSON.stringify(status)}`);
      }
      // Two animation frames, so the frame with every chunk is on the canvas.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      info = await page.evaluate(() => {
        const v = window.viewer;
        const panels = [...document.querySelectorAll(".neuroglancer-rendered-data-panel")]
          .filter((e) => e.offsetWidth > 0 && e.offsetHeight > 0);
        if (panels.length !== 1) return { error: `${panels.length} visible panels, not 1` };
        const r = panels[0].getBoundingClientRect();
        return {
          ready: v.isReady(),
          rect: { x: r.x, y: r.y, width: r.width, height: r.height },
          position: Array.from(v.navigationState.position.value),
          crossSectionScale: v.navigationState.zoomFactor.value,
        };
      });
      if (info.error) throw new Error(`view ${view.name}: ${info.error}`);
      if (info.ready) break;
      if (attempt === 5) throw new Error(`view ${view.name}: no longer ready after drawing, ${attempt} times`);
    }
    const rect = info.rect;
    if ([rect.x, rect.y, rect.width, rect.height].some((v) => !Number.isInteger(v))) {
      throw new Error(`view ${view.name}: panel at fractional pixels ${JSON.stringify(rect)}`);
    }
    const file = path.join(outDir, `${view.name}.png`);
    await page.screenshot({ path: file, clip: rect, animations: "disabled", caret: "initial" });
    views[view.name] = { file, width: rect.width, height: rect.height,
      position: info.position, crossSectionScale: info.crossSectionScale };
  }
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ webgl, views, responses }));
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(`also:\n${problems.join("\n")}`);
  exitCode = 1;
} finally {
  await context.close();
}
process.exit(exitCode);
