//! Local stand-in for API Gateway, the Lambda Runtime API and the X-Ray daemon.
