declare module '@novnc/novnc' {
  /** The part of noVNC's RFB client the dashboard uses. */
  export default class RFB extends EventTarget {
    constructor(
      target: HTMLElement,
      url: string,
      options?: { shared?: boolean; credentials?: { password?: string } },
    )
    scaleViewport: boolean
    clipViewport: boolean
    resizeSession: boolean
    viewOnly: boolean
    background: string
    disconnect(): void
    focus(): void
    clipboardPasteFrom(text: string): void
  }
}
