import fs from 'node:fs'
import path from 'node:path'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import type { Services } from '../../core/services.js'
import { errors } from '../../errors.js'

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Clawport</title>
<p>The dashboard is not built. Run <code>scripts/setup.sh</code> (or <code>npm run build:web</code>); the API is at <a href="/api">/api</a>.</p>`

/** The dashboard's policy: its own scripts only, no framing, WebSockets to this origin. */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  // xterm.js and noVNC set element styles at run time.
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  workerSrc: ["'self'", 'blob:'],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
}

/**
 * Serves the single-page dashboard built into config.http.webDir: hashed assets cached for good,
 * index.html for every other non-/api path (the page routes itself).
 */
export const dashboardRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const root = services.config.http.webDir
  const built = fs.existsSync(path.join(root, 'index.html'))
  // Registered inside this plugin, so the headers apply to the dashboard's answers only.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP },
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    hsts: false,
  })
  if (built) await app.register(fastifyStatic, { root, serve: false })

  app.get('/*', { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    const urlPath = decodeURIComponent(request.url.split('?')[0] ?? '/')
    if (urlPath === '/api' || urlPath.startsWith('/api/')) throw errors.routeNotFound(request.method, urlPath)
    if (!built) return reply.type('text/html; charset=utf-8').send(NOT_BUILT)
    const rel = path.posix.normalize(urlPath).replace(/^\/+/, '')
    const file = path.join(root, rel)
    if (rel && !rel.startsWith('..') && file.startsWith(root + path.sep) && isFile(file)) {
      const immutable = rel.startsWith('assets/')
      return reply.sendFile(rel, {
        cacheControl: true,
        immutable,
        maxAge: immutable ? 365 * 86_400_000 : 0,
      })
    }
    // A missing file (anything with an extension) is a 404; every other path is a page.
    if (path.posix.extname(rel)) throw errors.notFound(`${urlPath} was not found.`)
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false })
  })
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}
