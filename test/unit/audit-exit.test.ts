// `rotator audit`'s exit code: drift and violations fail a check (exit 6); a warning, a hazard
// such as a service account whose parent is the root, is listed and exits 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditExitCode } from '../../src/cli/audit';
import { EXIT } from '../../src/cli/output';

test('drift or a violation exits 6; warnings alone, or nothing, exit 0', () => {
  assert.equal(auditExitCode([]), 0);
  assert.equal(auditExitCode([{ severity: 'warning' }, { severity: 'warning' }]), 0);
  assert.equal(auditExitCode([{ severity: 'warning' }, { severity: 'drift' }]), EXIT.findings);
  assert.equal(auditExitCode([{ severity: 'violation' }]), EXIT.findings);
  assert.equal(EXIT.findings, 6);
});
