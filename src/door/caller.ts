/** Who is calling: known from the socket the call came in on, never from the request. */
export interface Caller {
  instanceId: string
  userId: string
}
