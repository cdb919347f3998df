-- A login attempt with a wrong password (wrk -s login.lua).
wrk.method = "POST"
wrk.body = '{"username": "bench-admin", "password": "wrong"}'
wrk.headers["Content-Type"] = "application/json"
