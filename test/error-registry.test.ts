import fs from 'node:fs'
import { STATUS_CODES } from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerError } from '../src/broker/protocol.js'
import { turnError } from '../src/core/chat/turn-errors.js'
import { AppError, ERROR_CODES, errorCode, errors, isErrorCode } from '../src/errors.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

const SRC = path.resolve(import.meta.dirname, '../src')

/** An error answer of an operation in the OpenAPI document. */
interface Answer {
  description?: string
  content?: Record<string, { schema?: { $ref?: string } }>
}

/**
 * Codes the sources write as plain strings, where no type holds them to the registry: turn and
 * stream events, the runner's and the doors' JSON answers, and codes passed to factories.
 */
function codesWrittenInSources(): Map<string, string> {
  const found = new Map<string, string>()
  const files = fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
  for (const rel of files) {
    if (rel === 'error-codes.ts') continue
    const src = fs.readFileSync(path.join(SRC, rel), 'utf8')
    for (const re of [
      /\bcode: '([a-z]+(?:_[a-z]+)+)'/g,
      /new (?:AppError|BrokerError)\(\s*'([a-z_]+)'/g,
      /errors\.(?:forbidden|conflict|tooLarge)\([^;]*?,\s*'([a-z]+(?:_[a-z]+)+)',?\s*\)/gs,
    ])
      for (const m of src.matchAll(re)) found.set(m[1] as string, rel)
  }
  return found
}

describe('the error registry', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
  })
  afterAll(() => t?.close())

  it('holds each code once with an error status, a meaning and a log level', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^[a-z]+(_[a-z]+)*$/)
      expect(Number.isInteger(info.status) && info.status >= 400 && info.status <= 599, code).toBe(true)
      expect(STATUS_CODES[info.status], `${code}: ${info.status}`).toBeDefined()
      expect(info.meaning, code).toMatch(/^[A-Z`].*[.)]$/)
      // Only a server bug logs as an error; every refusal and outage the service means is a warning.
      expect(info.logLevel, code).toBe(
        code === 'internal_error' || code === 'broker_error' ? 'error' : 'warn',
      )
    }
  })

  it('registers every code the sources write, and the factories answer their registered status', () => {
    const written = codesWrittenInSources()
    expect(written.size).toBeGreaterThan(30)
    const unknown = [...written].filter(([code]) => !isErrorCode(code))
    expect(unknown, 'codes missing from src/error-codes.ts (code, file)').toEqual([])
    const factories = errors as unknown as Record<string, (...a: unknown[]) => AppError>
    for (const [name, make] of Object.entries(factories)) {
      const e = make('x', undefined)
      expect(e, name).toBeInstanceOf(AppError)
      expect(e.status, `${name} -> ${e.code}`).toBe(errorCode(e.code).status)
      expect(e.toJSON()).toMatchObject({ code: e.code, status: e.status, message: e.message })
    }
    expect(errors.conflict('Busy.', 'turn_in_progress').status).toBe(409)
    expect(new BrokerError('upstream_timeout', 'Slow.').status).toBe(504)
    // The broker passes on the model's own 4xx.
    expect(new BrokerError('upstream_error', 'Refused.', 401).status).toBe(401)
  })

  it('answers a turn with its code: the turn codes keep their status, other failures are 502', () => {
    const details = { session_id: 's' }
    expect(turnError('instance_not_ready', 'm', details).status).toBe(409)
    expect(turnError('model_not_configured', 'm', details).status).toBe(503)
    expect(turnError('upstream_timeout', 'm', details).status).toBe(504)
    const failed = turnError('upstream_unreachable', 'The model cannot be reached.', details)
    expect(failed.toJSON()).toEqual({
      message: 'The model cannot be reached.',
      code: 'upstream_unreachable',
      status: 502,
      details,
    })
    expect(turnError('runner_unavailable', 'm', details).status).toBe(502)
    expect(turnError('no_such_code', 'm', details).code).toBe('agent_error')
  })

  it("lists each route's error codes in the OpenAPI document, each under its registered status", async () => {
    const doc = (await t.inject('GET', '/api/openapi.json')).body
    let listed = 0
    for (const [p, item] of Object.entries<Record<string, { responses?: Record<string, Answer> }>>(doc.paths))
      for (const [method, op] of Object.entries(item))
        for (const [status, res] of Object.entries(op.responses ?? {})) {
          if (!res.content?.['application/json']?.schema?.$ref?.endsWith('/Error')) continue
          const where = `${method.toUpperCase()} ${p} ${status}`
          const lines = String(res.description).split('\n')
          expect(lines.length, where).toBeGreaterThan(0)
          for (const line of lines) {
            const m = /^- `([a-z_]+)`: (.+)$/.exec(line)
            expect(m, `${where}: ${line}`).not.toBeNull()
            const code = m?.[1] as string
            expect(isErrorCode(code), `${where}: ${code}`).toBe(true)
            if (!isErrorCode(code)) continue
            expect(errorCode(code).status, `${where}: ${code}`).toBe(Number(status))
            expect(m?.[2]).toBe(errorCode(code).meaning)
            listed++
          }
        }
    expect(listed).toBeGreaterThan(400)
    const send = doc.paths['/api/instances/{id}/chat'].post.responses
    expect(send['504'].description).toContain('`upstream_timeout`')
    expect(send['409'].description).toContain('`turn_in_progress`')
  })
})
