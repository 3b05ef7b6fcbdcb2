// pdfmill's web page in headless Chromium: pick an image, give an email, submit; twice. Both
// jobs must reach `emailed` on the page (live, over server-sent events), a PDF must download
// and start with `%PDF-`, and the mailbox page must list the two emails. Screenshots of the
// page, the mailbox and one email are saved as test artifacts.
//
// Run by scripts/e2e against a running `pdfmill up`. Environment:
//   PDFMILL_URL        base URL of the server, e.g. http://127.0.0.1:8080 (required)
//   PDFMILL_E2E_OUT    where screenshots and the PDF go (default: target/e2e)
//   PDFMILL_E2E_IMAGES two image paths separated by ':' (required)
//   CHROMIUM           the browser (default: /usr/bin/chromium, Debian's `chromium`)
//   PDFMILL_E2E_TIMEOUT_MS how long a job may take to reach `emailed` (default: 60000)
//
// playwright-core drives the machine's Chromium through executablePath; no browser is
// downloaded (`npx playwright install` is not used).

import { chromium } from "playwright-core";
import { mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

const base = (process.env.PDFMILL_URL || "").replace(/\/$/, "");
const out = process.env.PDFMILL_E2E_OUT || "target/e2e";
const images = (process.env.PDFMILL_E2E_IMAGES || "").split(":").filter(Boolean);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const jobTimeout = Number(process.env.PDFMILL_E2E_TIMEOUT_MS || 60000);

function fail(message) {
  throw new Error(message);
}

function log(message) {
  console.log(`web: ${message}`);
}

async function main() {
  if (!base) fail("PDFMILL_URL is not set");
  if (images.length !== 2) fail(`PDFMILL_E2E_IMAGES must name two images, got ${images.length}`);
  for (const image of images) await stat(image);
  await mkdir(out, { recursive: true });

  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // As root, without a GPU, on a machine whose network is closed: no sandbox, no GPU, and
    // none of Chromium's own background connections.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 1000, height: 800 },
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // A failed load shows as a console error without its URL; the response handler names it.
  // The page has no favicon, and Chromium asks for /favicon.ico anyway: that 404 is expected.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (response.status() >= 400 && url.pathname !== "/favicon.ico") {
      problems.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
    }
  });

  const email = `e2e-${Date.now()}@example.com`;
  await page.goto(`${base}/`);
  await page.locator("h1").waitFor();
  if (!(await page.locator("#submit").isDisabled())) fail("the Make PDF button is enabled before any image is picked");
  // The page shows the mailbox link once HEAD /mailbox answers (the embedded outbox).
  await page.locator("#mailbox-link").waitFor({ state: "visible", timeout: 10000 });
  await page.fill("#email", email);

  for (const [index, image] of images.entries()) {
    await page.setInputFiles("#images", image);
    await page.locator("#picked li").first().waitFor();
    const picked = await page.locator("#picked li").allTextContents();
    if (picked.length !== 1 || !picked[0].startsWith(path.basename(image))) {
      fail(`after picking ${image} the page lists ${JSON.stringify(picked)}`);
    }
    await page.click("#submit");
    await page.waitForFunction((n) => document.querySelectorAll("#jobs li.job").length === n, index + 1, { timeout: 10000 })
      .catch(async () => fail(`no job appeared after submitting ${image}; the page says: ${await page.locator("#form-error").textContent()}`));
    log(`submitted ${path.basename(image)}`);
  }

  // Wait for both jobs to be emailed; stop early if one fails or loses its live connection.
  const deadline = Date.now() + jobTimeout;
  let states = [];
  for (;;) {
    states = await page.$$eval("#jobs li.job", (items) => items.map((li) => ({
      id: li.dataset.id,
      name: li.querySelector(".name").textContent,
      state: li.dataset.state,
      detail: li.querySelector(".detail").textContent,
      pdf: li.querySelector("a.pdf").hidden ? null : li.querySelector("a.pdf").getAttribute("href"),
    })));
    const bad = states.find((s) => s.state === "failed" || s.state === "unknown");
    if (bad) fail(`job ${bad.id} (${bad.name}) is ${bad.state}: ${bad.detail}`);
    if (states.length === 2 && states.every((s) => s.state === "emailed")) break;
    if (Date.now() > deadline) fail(`jobs did not reach emailed within ${jobTimeout} ms: ${JSON.stringify(states)}`);
    await page.waitForTimeout(200);
  }
  for (const s of states) {
    log(`job ${s.id} (${s.name}): ${s.state} · ${s.detail}`);
    if (!/\b1 page\b/.test(s.detail)) fail(`job ${s.id} does not say "1 page": ${s.detail}`);
    if (!s.detail.includes(`emailed to ${email}`)) fail(`job ${s.id} does not say "emailed to ${email}": ${s.detail}`);
    if (s.pdf !== `/v1/conversions/${encodeURIComponent(s.id)}/pdf`) fail(`job ${s.id} links its PDF as ${s.pdf}`);
  }
  // The newest job is first; the names are the files' names.
  const names = states.map((s) => s.name).reverse();
  const expected = images.map((i) => path.basename(i));
  if (JSON.stringify(names) !== JSON.stringify(expected)) fail(`the jobs are named ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`);

  const pageShot = path.join(out, "web-page.png");
  await page.screenshot({ path: pageShot, fullPage: true });
  log(`screenshot ${pageShot}`);

  // Download the older job's PDF through its link, as a person would.
  const first = page.locator(`#jobs li.job[data-id="${states[1].id}"] a.pdf`);
  const [download] = await Promise.all([page.waitForEvent("download"), first.click()]);
  const pdfPath = path.join(out, "downloaded.pdf");
  await download.saveAs(pdfPath);
  const pdf = await readFile(pdfPath);
  if (pdf.subarray(0, 5).toString("latin1") !== "%PDF-") fail(`the download ${download.suggestedFilename()} does not start with %PDF- (${pdf.length} bytes)`);
  if (!pdf.subarray(-1024).toString("latin1").includes("%%EOF")) fail("the downloaded PDF has no %%EOF at its end");
  log(`downloaded ${download.suggestedFilename()} (${pdf.length} bytes, starts with %PDF-) → ${pdfPath}`);

  // The mailbox lists both emails to this address (other tests may have sent others).
  await page.click("#mailbox-link");
  await page.waitForURL(`${base}/mailbox`);
  const rows = page.locator("table tbody tr", { hasText: email });
  const rowCount = await rows.count();
  if (rowCount !== 2) fail(`the mailbox lists ${rowCount} emails to ${email}, expected 2`);
  const subjects = await rows.locator("td:first-child").allTextContents();
  log(`mailbox: ${rowCount} emails to ${email}: ${JSON.stringify(subjects)}`);
  const mailboxShot = path.join(out, "mailbox.png");
  await page.screenshot({ path: mailboxShot, fullPage: true });
  log(`screenshot ${mailboxShot}`);

  // One email, shown: it names a job and links its PDF.
  await rows.first().locator("a").click();
  await page.locator("dl.headers").waitFor();
  const text = await page.locator("pre").textContent();
  const mentioned = states.filter((s) => text.includes(s.id));
  if (mentioned.length === 0) fail(`the email's text names neither job: ${text.slice(0, 500)}`);
  if (!text.includes("/pdf")) fail(`the email's text has no PDF link: ${text.slice(0, 500)}`);
  const emailShot = path.join(out, "email.png");
  await page.screenshot({ path: emailShot, fullPage: true });
  log(`screenshot ${emailShot}`);

  if (problems.length) fail(`the browser saw problems:\n  ${problems.join("\n  ")}`);
  await context.close();
}

main().then(
  () => log("passed"),
  (error) => {
    console.error(`web: FAILED: ${error.message}`);
    process.exitCode = 1;
  },
);
