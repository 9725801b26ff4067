// Debian's Chromium, headless, as the Chromium tests drive it: a persistent
// profile in USER_DATA_DIR, and none of the background traffic that this
// machine's closed network refuses. `options` adds launch options (viewport).
import { chromium } from "playwright-core";

export const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

export function launchChromium(userDataDir, options = {}) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    ...options,
  });
}
