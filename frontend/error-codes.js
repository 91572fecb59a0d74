// The problem `error_code`s the GUI branches on. Each is one of the server's codes (the
// `ErrorCode` enum of keel-http, whose test reads this file), so a renamed code fails the build
// instead of silently changing what the GUI does.

export const ERROR_CODES = Object.freeze({
  ALREADY_VOTED: 'already_voted',
  VOTE_NOT_FOUND: 'vote_not_found',
  POST_NOT_FOUND: 'post_not_found',
  INVALID_VERIFICATION_TOKEN: 'invalid_verification_token',
  INVALID_RESET_TOKEN: 'invalid_reset_token',
});
