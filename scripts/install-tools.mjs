#!/usr/bin/env node
// Builds the pinned binaries of the local stack (tools/versions.json) from the Go
// module proxy (or Maven Central, or PyPI) into a cache outside the repository, keyed by version. Dependency-free
// on purpose: it runs before `npm install` on a fresh machine.
//
//   node scripts/install-tools.mjs            build what is missing (the stack, and promtool for
//                                             the alert-rule tests in deploy/monitoring)
//   node scripts/install-tools.mjs --check    exit 1 and list what is missing
//   node scripts/install-tools.mjs prefect    only the named tools
//
// Override any binary with ROTATOR_<NAME>_BIN (e.g. ROTATOR_KUBE_APISERVER_BIN,
// ROTATOR_STORE_BIN for a real RustFS); a tool whose binaries are all overridden is
// not built.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const versions = JSON.parse(fs.readFileSync(path.join(here, '..', 'tools', 'versions.json'), 'utf8'));
const cacheRoot =
  process.env.ROTATOR_TOOLS_DIR ?? path.join(os.homedir(), '.cache', 'rustfs-rotator', 'tools');
const started = Date.now();

const overrideVar = (bin) =>
  `ROTATOR_${(bin === 'minio' ? 'store' : bin).replace(/-/g, '_').toUpperCase()}_BIN`;
const toolDir = (name) => path.join(cacheRoot, `${name}-${versions[name].version}`);
const elapsed = (since) => {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
const log = (name, msg) => console.log(`[install-tools ${elapsed(started)}] ${name}: ${msg}`);

function missingBinaries(name) {
  const dir = toolDir(name);
  return versions[name].binaries.filter((bin) => {
    if (process.env[overrideVar(bin)]) return false;
    return !fs.existsSync(path.join(dir, bin)) || !fs.existsSync(path.join(dir, '.complete'));
  });
}

class BuildError extends Error {
  constructor(tool, command, logFile) {
    super(`${tool}: \`${command}\` failed`);
    this.tool = tool;
    this.command = command;
    this.logFile = logFile;
  }
}

function run(tool, cmd, args, { cwd, env, logFile }) {
  const command = [cmd, ...args].join(' ');
  fs.appendFileSync(logFile, `\n$ ${command}\n`);
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.appendFileSync(logFile, String(err));
      reject(new BuildError(tool, command, logFile));
    });
    child.on('exit', (code) => {
      fs.closeSync(out);
      if (code === 0) resolve();
      else reject(new BuildError(tool, command, logFile));
    });
  });
}

const goEnv = (gobin) => ({
  GOBIN: gobin,
  GOFLAGS: '-mod=mod -buildvcs=false',
  GOTOOLCHAIN: 'local',
  CGO_ENABLED: '0',
});
const ldflags = '-ldflags=-s -w';

async function buildSimple(name, dir, logFile) {
  const t = versions[name];
  await run(name, 'go', ['install', ldflags, `${t.package}@${t.version}`], {
    cwd: dir,
    env: goEnv(dir),
    logFile,
  });
}

// k/k's go.mod requires its staging modules at v0.0.0 with local replaces, so it
// cannot be `go install`ed; a throwaway module pins every staging module instead.
async function buildKubernetes(name, dir, logFile) {
  const t = versions[name];
  const work = path.join(dir, '.build');
  fs.mkdirSync(work, { recursive: true });
  const env = goEnv(dir);
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `${t.module}@${t.version}`], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    }),
  );
  const kkMod = fs.readFileSync(info.GoMod, 'utf8');
  const stagingVersion = t.version.replace(/^v1\./, 'v0.');
  const staging = [...kkMod.matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\//gm)].map((m) => m[1]);
  const etcd = kkMod.match(/go\.etcd\.io\/etcd\/server\/v3 (v[\w.-]+)/)?.[1];
  if (!etcd) throw new Error(`${t.module}@${t.version}: go.mod does not name go.etcd.io/etcd/server/v3`);
  fs.writeFileSync(
    path.join(work, 'go.mod'),
    [
      'module rotator.local/kubebuild',
      '',
      'go 1.24',
      '',
      `require ${t.module} ${t.version}`,
      `require go.etcd.io/etcd/server/v3 ${etcd}`,
      '',
      ...staging.map((m) => `replace ${m} => ${m} ${stagingVersion}`),
      '',
    ].join('\n'),
  );
  fs.mkdirSync(path.join(work, 'etcd'), { recursive: true });
  fs.writeFileSync(
    path.join(work, 'etcd', 'main.go'),
    `package main\n\nimport (\n\t"os"\n\n\t"${t.etcdMain}"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n`,
  );
  log(name, `pinned ${staging.length} staging modules at ${stagingVersion}, etcd ${etcd}`);
  // `go get` of the packages (not tidy: nothing here imports k8s, tidy would drop it)
  // records exactly the requirements those binaries need.
  await run(name, 'go', ['get', ...t.packages.map((p) => `${p}@${t.version}`), `${t.etcdMain}@${etcd}`], {
    cwd: work,
    env,
    logFile,
  });
  await run(name, 'go', ['build', ldflags, '-o', dir + '/', ...t.packages], { cwd: work, env, logFile });
  await run(name, 'go', ['build', ldflags, '-o', path.join(dir, 'etcd'), './etcd'], {
    cwd: work,
    env,
    logFile,
  });
}

// A Maven artifact: its runtime classpath is resolved into the tool directory (its own
// local repository, so nothing lands in ~/.m2) and a wrapper script runs its main class.
async function buildMaven(name, dir, logFile) {
  const t = versions[name];
  const [groupId, artifactId] = t.maven.split(':');
  const work = path.join(dir, '.build');
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(
    path.join(work, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>rotator.local</groupId><artifactId>${artifactId}-classpath</artifactId><version>0</version>
  <dependencies><dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${t.version}</version></dependency></dependencies>
</project>
`,
  );
  const classpath = path.join(dir, 'classpath.txt');
  await run(
    name,
    'mvn',
    [
      '-q',
      '-B',
      `-Dmaven.repo.local=${path.join(dir, 'm2')}`,
      'dependency:build-classpath',
      `-Dmdep.outputFile=${classpath}`,
    ],
    { cwd: work, env: {}, logFile },
  );
  const script = path.join(dir, t.binaries[0]);
  fs.writeFileSync(script, `#!/bin/sh\nexec java -cp "$(cat '${classpath}')" ${t.mainClass} "$@"\n`);
  fs.chmodSync(script, 0o755);
}

// A PyPI package in its own virtual environment (nothing lands in the system Python);
// the wrapper script runs its console entry point.
async function buildPython(name, dir, logFile) {
  const t = versions[name];
  const venv = path.join(dir, 'venv');
  fs.rmSync(venv, { recursive: true, force: true });
  await run(name, 'python3', ['-m', 'venv', venv], { cwd: dir, env: {}, logFile });
  await run(
    name,
    path.join(venv, 'bin', 'pip'),
    ['install', '--no-input', '--progress-bar', 'off', `${t.pypi}==${t.version}`],
    { cwd: dir, env: {}, logFile },
  );
  for (const bin of t.binaries) {
    const script = path.join(dir, bin);
    fs.writeFileSync(script, `#!/bin/sh\nexec '${path.join(venv, 'bin', bin)}' "$@"\n`);
    fs.chmodSync(script, 0o755);
  }
}

async function install(name) {
  const missing = missingBinaries(name);
  const dir = toolDir(name);
  if (missing.length === 0) {
    log(name, `${versions[name].version} ready (${dir})`);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, '.complete'), { force: true });
  const logFile = path.join(dir, 'build.log');
  fs.writeFileSync(logFile, '');
  const since = Date.now();
  log(name, `building ${versions[name].version} (${missing.join(', ')}); log: ${logFile}`);
  const ticker = setInterval(() => log(name, `still building… ${elapsed(since)}`), 60_000);
  try {
    if (name === 'kubernetes') await buildKubernetes(name, dir, logFile);
    else if (versions[name].maven) await buildMaven(name, dir, logFile);
    else if (versions[name].pypi) await buildPython(name, dir, logFile);
    else await buildSimple(name, dir, logFile);
  } finally {
    clearInterval(ticker);
  }
  fs.rmSync(path.join(dir, '.build'), { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, '.complete'), new Date().toISOString());
  log(name, `built in ${elapsed(since)}`);
}

function checkCommand(cmd, args, hint) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    console.error(`install-tools: \`${cmd}\` is not on PATH. ${hint}`);
    process.exit(1);
  }
}

async function main() {
  // Named tools only (`install-tools.mjs prefect`), else every pinned tool.
  const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = only.filter((n) => !(n in versions));
  if (unknown.length) {
    console.error(`install-tools: no pinned tool named ${unknown.join(', ')} (tools/versions.json)`);
    process.exit(2);
  }
  const names = only.length ? only : Object.keys(versions).filter((k) => !k.startsWith('$'));
  if (process.argv.includes('--check')) {
    const missing = names.flatMap((n) => missingBinaries(n).map((b) => `${n}/${b}`));
    if (missing.length) {
      console.error(`missing: ${missing.join(', ')} — run: node scripts/install-tools.mjs`);
      process.exitCode = 1;
    }
    return;
  }
  const needs = names.filter((n) => missingBinaries(n).length);
  if (needs.some((n) => !versions[n].maven && !versions[n].pypi))
    checkCommand('go', ['version'], 'Install Go ≥ 1.26.7 (promtool v0.316.0 asks for it; GOTOOLCHAIN=local, so the installed go builds everything).');
  if (needs.some((n) => versions[n].maven)) {
    checkCommand('java', ['-version'], 'Install Java ≥ 17 (e.g. `apt-get install openjdk-17-jre-headless`).');
    checkCommand('mvn', ['-v'], 'Install Maven (e.g. `apt-get install maven`).');
  }
  if (needs.some((n) => versions[n].pypi))
    checkCommand(
      'python3',
      ['-m', 'venv', '--help'],
      'Install Python 3.11–3.15 with venv (Prefect 3.9.1 asks for it; e.g. `apt-get install python3-venv`).',
    );
  // Two lanes so both cores stay busy: go's own parallelism stalls in the single-threaded
  // link of the big binaries, and the other lane fills that gap.
  const heavy = names.filter((n) => n === 'kubernetes');
  const light = names.filter((n) => n !== 'kubernetes');
  const lane = async (list) => {
    for (const n of list) await install(n);
  };
  const results = await Promise.allSettled([lane(heavy), lane(light)]);
  const failed = results.filter((r) => r.status === 'rejected');
  for (const { reason } of failed) {
    if (reason instanceof BuildError) {
      const tail = fs.readFileSync(reason.logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
      console.error(`\ninstall-tools: ${reason.message}\n--- last lines of ${reason.logFile} ---\n${tail}`);
    } else {
      console.error(`\ninstall-tools: ${reason?.stack ?? reason}`);
    }
  }
  if (failed.length) process.exitCode = 1;
  else log('all', `tools ready in ${cacheRoot}`);
}

await main();
