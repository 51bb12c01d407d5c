-- wrk script: every request creates one issue through the REST API.
-- Credentials and the CSRF headers (X-Requested-With, Origin, Referer)
-- come from wrk's -H options; run.sh checks wrk's count of non-2xx answers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "Printer queue stalls after upgrade", "priority": "3", "status": "1"}'
