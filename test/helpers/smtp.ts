// A real SMTP server for tests (smtp-server): nodemailer delivers to it over TCP exactly as to a
// production relay, and the test reads what arrived, decoded from MIME.
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  /** RCPT TO addresses of the SMTP envelope. */
  envelopeTo: string[]
  /** Header names lower-cased, encoded words decoded. */
  headers: Record<string, string>
  subject: string
  text: string
  html: string
  raw: string
}

export interface TestSmtpServer {
  port: number
  url: string
  received: ReceivedMail[]
  /** Mails whose envelope goes to `address`. */
  to(address: string): ReceivedMail[]
  /** Starts listening (again) on the same port. */
  start(): Promise<void>
  stop(): Promise<void>
}

// A port nothing listens on (yet) is what an SMTP relay that is down looks like.
export { freePort } from './processes.ts'
import { freePort } from './processes.ts'

/**
 * @param options.rejectRecipient reply 550 to RCPT TO for matching addresses (a permanent refusal)
 * @param options.listen false: only reserve the port; call start() later (a relay that comes back)
 * @param options.acceptDelayMs answer each message this much later (a slow relay)
 */
export async function startSmtpServer(options: { rejectRecipient?: RegExp; listen?: boolean; acceptDelayMs?: number } = {}): Promise<TestSmtpServer> {
  const port = await freePort()
  const received: ReceivedMail[] = []
  const closedSessions = new Set<string>()
  let server: SMTPServer | undefined
  const handle: TestSmtpServer = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    to: (address) => received.filter((mail) => mail.envelopeTo.includes(address)),
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onClose(session) {
          closedSessions.add(session.id)
        },
        onRcptTo(address, _session, callback) {
          if (options.rejectRecipient?.test(address.address)) {
            const error = new Error('Mailbox unavailable') as Error & { responseCode: number }
            error.responseCode = 550
            return callback(error)
          }
          callback()
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = []
          stream.on('data', (chunk: Buffer) => chunks.push(chunk))
          stream.on('end', () => {
            const raw = Buffer.concat(chunks).toString('latin1')
            const accept = () => {
              // SMTP: a message is the relay's only once it has answered 250; a sender that hangs up
              // before that (it crashed) has not sent it, and the relay drops it.
              if (closedSessions.has(session.id)) return
              received.push({ ...parseMime(raw), envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw })
              callback()
            }
            if (options.acceptDelayMs) setTimeout(accept, options.acceptDelayMs)
            else accept()
          })
        },
      })
      await new Promise<void>((resolve, reject) => {
        server!.server.once('error', reject)
        server!.listen(port, '127.0.0.1', () => resolve())
      })
    },
    async stop() {
      const current = server
      server = undefined
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()))
    },
  }
  if (options.listen !== false) await handle.start()
  return handle
}

// ---- just enough MIME to read what nodemailer writes ------------------------------------------

function decodeBytes(encoded: string, charset: string): string {
  return Buffer.from(encoded, 'latin1').toString(/utf-?8/i.test(charset) ? 'utf8' : 'latin1')
}

function decodeQuotedPrintable(body: string, charset: string): string {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return decodeBytes(bytes, charset)
}

/** RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`), as in a non-ASCII subject. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString(/utf-?8/i.test(charset) ? 'utf8' : 'latin1')
        : decodeQuotedPrintable(text.replaceAll('_', ' '), charset),
    )
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim())
  }
  return headers
}

function parameter(header: string | undefined, name: string): string | undefined {
  return header ? new RegExp(`${name}="?([^";]+)"?`, 'i').exec(header)?.[1] : undefined
}

interface Part {
  headers: Record<string, string>
  body: string
}

function splitPart(raw: string): Part {
  const end = raw.search(/\r?\n\r?\n/)
  if (end < 0) return { headers: parseHeaders(raw), body: '' }
  const separator = raw.slice(end).startsWith('\r\n') ? 4 : 2
  return { headers: parseHeaders(raw.slice(0, end)), body: raw.slice(end + separator) }
}

function leafParts(part: Part): Part[] {
  const boundary = parameter(part.headers['content-type'], 'boundary')
  if (!boundary) return [part]
  return part.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .flatMap((chunk) => leafParts(splitPart(chunk.replace(/^\r?\n/, ''))))
}

function decodeBody(part: Part): string {
  const charset = parameter(part.headers['content-type'], 'charset') ?? 'utf-8'
  const encoding = (part.headers['content-transfer-encoding'] ?? '7bit').toLowerCase()
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(part.body, charset)
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8')
  return decodeBytes(part.body, charset)
}

export function parseMime(raw: string): Omit<ReceivedMail, 'envelopeTo' | 'raw'> {
  const message = splitPart(raw)
  const leaves = leafParts(message)
  const bodyOf = (type: string) => {
    const leaf = leaves.find((p) => (p.headers['content-type'] ?? 'text/plain').toLowerCase().startsWith(type))
    return leaf ? decodeBody(leaf).replace(/\r\n/g, '\n') : ''
  }
  return { headers: message.headers, subject: message.headers.subject ?? '', text: bodyOf('text/plain'), html: bodyOf('text/html') }
}
