-- wrk script: durable job submissions (POST /v1/jobs), each a new job.
-- The token comes from the environment (STRAITS_TOKEN).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("STRAITS_TOKEN")
wrk.body = '{"org":"bellhollow","team":"bench","gpus":8,"work":100,"eligible_chips":["h100-sxm"],"command":["python","train.py"]}'

-- Error answers (4xx, 5xx) are counted and reported: a fast error is not a submission.
done = function(summary, latency, requests)
  io.write(string.format("error answers: %d\n", summary.errors.status))
end
