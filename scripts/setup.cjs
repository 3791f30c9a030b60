// `prestart` / `pretest`: what `npm start` and `npm test` need before any TypeScript runs.
// Plain CommonJS in old syntax on purpose: it must run, and say what is wrong, on any Node.
//   1. Node new enough to run the .ts files directly (type stripping on by default, import.meta.main):
//      22.18 or newer on the 22 line, else 24.2 or newer. Older: a clear message and exit 1.
//   2. `npm ci` when node_modules is missing or older than package-lock.json (after a clone or a pull).
// FRESHPLAN_NODE_VERSION stands in for process.versions.node (the tests use it).
'use strict'
var fs = require('fs')
var path = require('path')
var childProcess = require('child_process')

var MINIMUM = 'Node.js 22.18 or newer (Node 24 LTS recommended)'

/** True when this version runs the project: ^22.18.0 or >=24.2.0 (matches "engines" in package.json). */
function supportedNode(version) {
  var parts = String(version).replace(/^v/, '').split('.').map(Number)
  var major = parts[0]
  var minor = parts[1] || 0
  if (major === 22) return minor >= 18
  if (major === 24) return minor >= 2
  return major > 24
}

function nodeMessage(version) {
  return [
    'freshplan-leads needs ' + MINIMUM + '; this is Node.js ' + version + '.',
    'Install Node 24, e.g.:',
    '  nvm install 24 && nvm use 24        (https://github.com/nvm-sh/nvm)',
    '  fnm install 24 && fnm use 24        (https://github.com/Schniz/fnm)',
    '  or the installer from https://nodejs.org/en/download',
    'then run the command again.',
  ].join('\n')
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return null
  }
}

/**
 * Why `npm ci` must run, or null. npm writes node_modules/.package-lock.json on every install; when
 * it is missing or older than package-lock.json, the installed tree is not the locked one.
 */
function installReason(root) {
  var lock = mtime(path.join(root, 'package-lock.json'))
  var installed = mtime(path.join(root, 'node_modules', '.package-lock.json'))
  if (installed === null) return 'node_modules is missing'
  if (lock !== null && lock > installed) return 'package-lock.json is newer than node_modules'
  return null
}

function main() {
  var version = process.env.FRESHPLAN_NODE_VERSION || process.versions.node
  if (!supportedNode(version)) {
    console.error(nodeMessage(version))
    process.exit(1)
  }
  var root = path.resolve(__dirname, '..')
  var reason = installReason(root)
  if (reason === null) return
  console.log(reason + ': running npm ci')
  // Under npm, npm_execpath is npm's own script: the same npm that runs this, whatever PATH says.
  var npm = process.env.npm_execpath
  var result = npm
    ? childProcess.spawnSync(process.execPath, [npm, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
    : childProcess.spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (result.status !== 0) {
    console.error('npm ci failed (exit ' + (result.status === null ? result.signal : result.status) + '); fix the error above and run the command again.')
    process.exit(1)
  }
}

module.exports = { supportedNode: supportedNode, installReason: installReason, nodeMessage: nodeMessage }
if (require.main === module) main()
