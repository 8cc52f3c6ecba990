import type { LayoutOverrides } from '../../src/launcher/layout.js';
import { commandExists } from '../../src/launcher/prometheus.js';

// The tests' one Prometheus policy:
// - Test clusters run WITHOUT Prometheus (`withoutPrometheus`): it is not what they test, and it
//   costs start-up time and memory on a shared machine.
// - Exactly the tests about Prometheus run it: the launcher's scrape of every instance found
//   through discovery and every exporter (test/e2e/launcher.test.ts, with `scrapingPrometheus`),
//   the dashboard queries (test/integration/grafana-dashboards.test.ts), and promtool on the
//   launcher's configuration and the alert rules (test/integration/launcher/prometheus.test.ts,
//   test/integration/deploy/alert-rules.test.ts).
// - Those tests REQUIRE Prometheus (`requirePrometheus`) and fail naming the install command
//   when it is missing, rather than skip: a skipped test cannot catch a broken dashboard.
//   scripts/install-deps.sh (run by `make test`) installs it.

/** Layout for a test cluster that is not about Prometheus. */
export const withoutPrometheus: LayoutOverrides['prometheus'] = { enabled: false };

/** Layout for a test cluster whose Prometheus is under test: it must start, and scrapes every second. */
export const scrapingPrometheus: LayoutOverrides['prometheus'] = { enabled: true, scrapeIntervalSeconds: 1 };

/** The Prometheus binaries, or an error that says how to install them. */
export function requirePrometheus(): { prometheus: string; promtool: string } {
  const missing = ['prometheus', 'promtool'].filter((command) => !commandExists(command));
  if (missing.length > 0) {
    throw new Error(`${missing.join(' and ')} not found on PATH: the Prometheus tests need them. Install with "sudo apt-get install -y prometheus" (scripts/install-deps.sh does so when run as root).`);
  }
  return { prometheus: 'prometheus', promtool: 'promtool' };
}
