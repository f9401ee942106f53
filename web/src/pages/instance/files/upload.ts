import { ApiError, apiHeaders } from '../../../api'

/**
 * Streams a file as a raw body to /files/upload?path= with progress; XMLHttpRequest because
 * fetch cannot report upload progress.
 */
export function uploadFile(
  instanceId: string,
  path: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/instances/${instanceId}/files/upload?path=${encodeURIComponent(path)}`)
    for (const [k, v] of Object.entries(apiHeaders({ 'content-type': 'application/octet-stream' })))
      xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve()
      let message = `${xhr.status} ${xhr.statusText}`
      let code = 'http_error'
      try {
        const body = JSON.parse(xhr.responseText) as { message?: string; code?: string }
        message = body.message ?? message
        code = body.code ?? code
      } catch {
        // Not JSON: the status line says enough.
      }
      reject(new ApiError(xhr.status, code, message))
    }
    xhr.onerror = () => reject(new Error('The upload failed: the connection broke.'))
    xhr.send(file)
  })
}
