-- wrk script: authenticated GETs (the path is wrk's URL).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("STRAITS_TOKEN")
done = function(summary, latency, requests)
  io.write(string.format("error answers: %d\n", summary.errors.status))
end
